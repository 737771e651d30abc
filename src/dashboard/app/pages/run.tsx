import { Component } from 'preact';
import { CANCEL_DELIVERED } from '../../../core/cancellation.js';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import {
  client,
  errorText,
  isActive,
  isRetryable,
  mayAct,
  type LogInfo,
  type RunDetailInfo,
  type RunInfo,
} from '../api.js';
import {
  ErrorNote,
  Facts,
  JsonBlock,
  Progress,
  StatusBadge,
  StopDialog,
  type StopMode,
  ColumnHeads,
} from '../components.js';
import { errorLine, formatSpan, formatTime, runDuration, shortId } from '../format.js';
import { eventRun, useLiveEvents } from '../live.js';
import { Link, jobPath, navigate, runPath } from '../router.js';
import { useSession } from '../session.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const LOG_PAGE = 1000;
/** Log lines the page keeps, the newest: as many as a run keeps by default (`logCap`). */
const LOG_LINES_SHOWN = 1000;

/** The API's field names as this page says them (the id comes from the address). */
const RUN_LABELS = { id: 'Run id' };

const newest = (entries: LogInfo[]) =>
  entries.length > LOG_LINES_SHOWN ? entries.slice(-LOG_LINES_SHOWN) : entries;

/** A run, followed live until it ends: status, progress, attempts, items, cancel record and logs. */
export function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<RunDetailInfo | null>(null);
  const [logs, setLogs] = useState<LogInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [stopMode, setStopMode] = useState<StopMode | null>(null);
  const loaded = useRef(false);
  const lastSeq = useRef(0);
  const reloads = useRef(0);
  const logsLoading = useRef(false);
  const logsAgain = useRef(false);
  const pendingLogs = useRef<LogInfo[]>([]);
  const logFrame = useRef<number | null>(null);
  const pendingSteps = useRef<StepInfo[]>([]);
  const stepFrame = useRef<number | null>(null);
  const pendingChildren = useRef<ChildInfo[]>([]);
  const childFrame = useRef<number | null>(null);

  const reload = async () => {
    // Answers can come back out of order: only the latest request's may show.
    const ticket = ++reloads.current;
    try {
      const fresh = await client.run(id);
      if (ticket !== reloads.current) return;
      setRun(fresh);
      loaded.current = true;
      setError(null);
    } catch (err) {
      if (ticket === reloads.current) setError(errorText(err, RUN_LABELS));
    }
  };
  /**
   * Reads the logs after the last one shown. One read at a time: asked again meanwhile (a fast run
   * logs hundreds of lines a second), it reads once more when done instead of piling up requests.
   */
  const loadLogs = async () => {
    if (logsLoading.current) {
      logsAgain.current = true;
      return;
    }
    logsLoading.current = true;
    try {
      do {
        logsAgain.current = false;
        for (;;) {
          const page = await client.logs(id, lastSeq.current);
          appendLogs(page);
          if (page.length < LOG_PAGE) break;
        }
      } while (logsAgain.current);
    } catch (err) {
      setError(errorText(err, RUN_LABELS));
    } finally {
      logsLoading.current = false;
    }
  };
  /** New lines show once per frame, however many arrive: a chatty run must not stall the page. */
  const appendLogs = (entries: LogInfo[]) => {
    const fresh = entries.filter((entry) => entry.seq > lastSeq.current);
    if (fresh.length === 0) return;
    lastSeq.current = fresh[fresh.length - 1]!.seq;
    pendingLogs.current = newest(pendingLogs.current.concat(fresh));
    logFrame.current ??= requestAnimationFrame(() => {
      logFrame.current = null;
      const batch = pendingLogs.current;
      pendingLogs.current = [];
      setLogs((previous) => newest(previous.concat(batch)));
    });
  };

  /** Step events show once per frame too: a run of many short steps sends hundreds a second. */
  const addStep = (step: StepInfo) => {
    pendingSteps.current.push(step);
    stepFrame.current ??= requestAnimationFrame(() => {
      stepFrame.current = null;
      const batch = pendingSteps.current;
      pendingSteps.current = [];
      setRun((previous) => previous && withSteps(previous, batch));
    });
  };

  /** Children's events too: a parent may start thousands of children that end at once. */
  const addChild = (child: ChildInfo) => {
    pendingChildren.current.push(child);
    childFrame.current ??= requestAnimationFrame(() => {
      childFrame.current = null;
      const batch = pendingChildren.current;
      pendingChildren.current = [];
      setRun((previous) => previous && withChildren(previous, batch));
    });
  };

  useEffect(() => {
    void reload();
    void loadLogs();
    return () => {
      if (logFrame.current !== null) cancelAnimationFrame(logFrame.current);
      if (stepFrame.current !== null) cancelAnimationFrame(stepFrame.current);
      if (childFrame.current !== null) cancelAnimationFrame(childFrame.current);
    };
  }, [id]);

  useLiveEvents((event) => {
    if (event.name === 'reset') {
      void reload();
      void loadLogs();
      return;
    }
    if (event.name === 'run.step' && 'step' in event) {
      if (event.runId === id) addStep(event.step);
      return;
    }
    if (event.name === 'run.log' && 'entry' in event && event.runId === id) {
      // An entry past a gap (missed while loading) is fetched with what it skipped.
      if (event.entry.seq === lastSeq.current + 1) appendLogs([event.entry]);
      else if (event.entry.seq > lastSeq.current) void loadLogs();
      return;
    }
    const changed = eventRun(event);
    // A new child by its parentId; one already shown by its id too.
    if (
      changed &&
      changed.id !== id &&
      (changed.parentId === id || run?.children.some((child) => child.id === changed.id))
    ) {
      // A child's progress leaves its row as it is (and may carry a status read before its end).
      if (event.name !== 'run.progress') addChild(childOf(changed));
      return;
    }
    if (!changed || changed.id !== id) return;
    if (event.name === 'run.progress') {
      // A progress event is about progress: the run it carries may have been read before a stop
      // this page already shows, and its status must not undo that.
      setRun((previous) => (previous ? { ...previous, progress: changed.progress } : previous));
      if (!loaded.current) void reload();
      return;
    }
    // The event's run has no input, result, items or attempts: keep ours, take everything else.
    setRun((previous) =>
      previous
        ? {
            ...previous,
            ...changed,
            input: previous.input,
            result: previous.result,
            items: previous.items,
          }
        : previous,
    );
    // Status changes and the end bring a result, items or an error: read the whole run.
    void reload();
  });

  if (!run)
    return (
      <section>
        {/* The id comes from the address bar, any length: one line, cut, in full on hover. */}
        <h1 class="clipped" title={`Run ${id}`}>
          Run {id}
        </h1>
        {error ? <ErrorNote error={error} /> : <p class="muted">Loading…</p>}
      </section>
    );
  return (
    <section class="run-page">
      <div class="title-row">
        <h1>
          <Link href={jobPath(run.job)}>{run.job}</Link> <StatusBadge status={run.status} />
          {run.stuckAt && isActive(run.status) ? (
            <>
              {' '}
              <span class="badge status-stuck">stuck since {formatTime(run.stuckAt)}</span>
            </>
          ) : null}
        </h1>
        <RunControls
          run={run}
          onStop={setStopMode}
          onError={setError}
          onChanged={(changed) => {
            setRun((previous) => (previous === null ? previous : { ...previous, ...changed }));
            void reload();
          }}
        />
      </div>
      <ErrorNote error={error} />
      <Facts
        items={[
          ['Run', <code>{run.id}</code>],
          ['Attempt', `${run.attempt}/${run.maxAttempts}`],
          ['Started by', `${run.createdBy} (${run.trigger})`],
          ['Created', formatTime(run.createdAt)],
          ['Started', formatTime(run.firstStartedAt ?? run.startedAt)],
          ['Finished', formatTime(run.finishedAt)],
          ['Duration', runDuration(run)],
          // In full: ids are UUIDv7, whose start is a time, the same for workers started together.
          ['Worker', run.workerId ? <code>{run.workerId}</code> : '—'],
          ...(run.retryOf
            ? ([['Retry of', <Link href={runPath(run.retryOf)}>{shortId(run.retryOf)}</Link>]] as [
                string,
                preact.ComponentChildren,
              ][])
            : []),
          ...(run.parentId
            ? ([['Parent', <Link href={runPath(run.parentId)}>{shortId(run.parentId)}</Link>]] as [
                string,
                preact.ComponentChildren,
              ][])
            : []),
        ]}
      />
      <h2>Progress</h2>
      <Progress progress={run.progress} label="Run progress" />
      {run.error ? (
        <div class="run-error" role="group" aria-label="Error">
          <h2>Error</h2>
          <p>
            <code>{run.error.code}</code> {run.error.message}
          </p>
        </div>
      ) : run.lastError ? (
        <p class="muted">
          Last attempt's error: <code>{run.lastError.code}</code> {run.lastError.message}
        </p>
      ) : null}
      {run.cancel ? (
        <div class="cancel-record">
          <h2>Stop requested</h2>
          <Facts
            items={[
              ['Mode', run.cancel.mode === 'force' ? 'immediately' : 'gracefully'],
              ['By', run.cancel.requestedBy],
              ['At', formatTime(run.cancel.requestedAt)],
              ['Delivered', deliveredText(run, logs)],
              ['Reason', run.cancel.reason ?? '—'],
            ]}
          />
        </div>
      ) : null}
      {run.attempts.length ? <Attempts attempts={run.attempts} /> : null}
      <JsonBlock title="Input" value={run.input} />
      {run.result !== null && run.result !== undefined ? (
        <JsonBlock title="Result" value={run.result} open />
      ) : null}
      {run.steps.length ? (
        <Steps steps={run.steps} earlierOmitted={run.earlierStepsOmitted} />
      ) : null}
      {run.items.length ? <Items items={run.items} /> : null}
      {run.children.length ? (
        <Children runId={run.id} rows={run.children} earlierOmitted={run.earlierChildrenOmitted} />
      ) : null}
      <Logs logs={logs} />
      {stopMode ? (
        <StopDialog
          mode={stopMode}
          // A run already cancelling can only be stopped immediately.
          modes={run.status === 'cancelling' ? ['force'] : undefined}
          idle={run.status === 'waiting' || run.status === 'paused'}
          {...(run.children.some((child) => isActive(child.status))
            ? { note: 'Its unfinished child runs are stopped with it, in the same mode.' }
            : {})}
          onClose={() => setStopMode(null)}
          onConfirm={async (options) => {
            const { run: stopped } = await client.cancel(run.id, options);
            // The events of the stop may have come first: an ended run stays ended, and a read
            // after the answer settles it (any read still on its way is older).
            setRun((previous) =>
              previous === null || !isActive(previous.status)
                ? previous
                : { ...previous, ...stopped },
            );
            void reload();
          }}
        />
      ) : null}
    </section>
  );
}

function RunControls(props: {
  run: RunInfo;
  onStop: (mode: StopMode) => void;
  onError: (error: string | null) => void;
  onChanged: (run: RunInfo) => void;
}) {
  const { run, onStop, onError, onChanged } = props;
  const session = useSession();
  const [busy, setBusy] = useState(false);
  if (session.role === 'viewer') return null;
  const allowed = mayAct(session, run);
  const why = allowed
    ? undefined
    : `Only ${run.createdBy}, who started this run, or an admin can stop, pause or retry it.`;
  const act = async (what: () => Promise<RunInfo>) => {
    setBusy(true);
    try {
      onChanged(await what());
      onError(null);
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  // A pause asked of a running run shows until the run stops at its next checkpoint.
  const pausable =
    (run.status === 'scheduled' ||
      run.status === 'pending' ||
      run.status === 'running' ||
      run.status === 'waiting') &&
    run.pause === null;
  const retry = async () => {
    setBusy(true);
    try {
      const next = await client.retry(run.id);
      navigate(runPath(next.id));
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const stoppable = isActive(run.status);
  const retryable = isRetryable(run.status);
  if (!stoppable && !retryable) return null;
  return (
    <div class="controls">
      {pausable ? (
        <button
          type="button"
          disabled={!allowed || busy}
          aria-describedby={why ? 'why-not' : undefined}
          onClick={() => void act(async () => (await client.pause(run.id)).run)}
        >
          Pause
        </button>
      ) : null}
      {run.status === 'running' && run.pause ? (
        <span class="muted">Pausing after the current step…</span>
      ) : null}
      {run.status === 'paused' ? (
        <button
          type="button"
          disabled={!allowed || busy}
          aria-describedby={why ? 'why-not' : undefined}
          onClick={() => void act(() => client.resume(run.id))}
        >
          Resume
        </button>
      ) : null}
      {stoppable && run.status !== 'cancelling' ? (
        <button
          type="button"
          disabled={!allowed}
          aria-describedby={why ? 'why-not' : undefined}
          onClick={() => onStop('graceful')}
        >
          Stop gracefully
        </button>
      ) : null}
      {stoppable ? (
        <button
          type="button"
          class="danger"
          disabled={!allowed}
          aria-describedby={why ? 'why-not' : undefined}
          onClick={() => onStop('force')}
        >
          Stop immediately
        </button>
      ) : null}
      {retryable ? (
        <button
          type="button"
          disabled={!allowed || busy}
          aria-describedby={why ? 'why-not' : undefined}
          onClick={() => void retry()}
        >
          Retry
        </button>
      ) : null}
      {why ? (
        <p id="why-not" class="muted">
          {why}
        </p>
      ) : null}
    </div>
  );
}

/**
 * When the cancel reached the worker running the run: the time of the `cancel delivered` log
 * entry of the cancel's mode (the worker writes it), and how long after the request.
 */
function deliveredText(run: RunDetailInfo, logs: LogInfo[]): string {
  const cancel = run.cancel!;
  const entry = logs.findLast(
    (log) =>
      log.message === CANCEL_DELIVERED &&
      (log.data as { mode?: unknown } | undefined)?.mode === cancel.mode,
  );
  if (entry) {
    const latency = Date.parse(entry.time) - Date.parse(cancel.requestedAt);
    return `${formatTime(entry.time)} (${formatSpan(latency)} after the request)`;
  }
  // No worker had the run (a waiting run is cancelled at once), or the log cap dropped the line.
  return isActive(run.status) ? 'not yet' : '—';
}

/** Every attempt, oldest first: who ran it, when, and how it ended. */
function Attempts({ attempts }: { attempts: RunDetailInfo['attempts'] }) {
  return (
    <>
      <h2>Attempts</h2>
      <div class="table-wrap">
        <table aria-label="Attempts">
          <ColumnHeads names={['Attempt', 'Worker', 'Started', 'Ended', 'Outcome', 'Error']} />
          <tbody>
            {attempts.map((attempt) => (
              <tr key={attempt.attempt}>
                <td>{attempt.attempt}</td>
                <td>
                  {attempt.workerId ? (
                    <code title={attempt.workerId}>{shortId(attempt.workerId)}</code>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{formatTime(attempt.startedAt)}</td>
                <td>{formatTime(attempt.endedAt)}</td>
                <td>
                  {attempt.outcome ? (
                    <StatusBadge status={attempt.outcome} />
                  ) : (
                    <span class="muted">running</span>
                  )}
                </td>
                <td class="wrap">{errorLine(attempt.error)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

type StepInfo = RunDetailInfo['steps'][number];
/** The steps the page keeps: the newest, as many as the API shows. */
const STEPS_KEPT = 1000;
/** The steps the table shows: the newest (a table of a thousand rows redrawn live stalls the page). */
const STEPS_SHOWN = 200;

/**
 * The run with `steps` as live events reported them, in order: a new step goes last, as the store
 * orders them, and the oldest beyond STEPS_KEPT are dropped.
 */
function withSteps(run: RunDetailInfo, steps: StepInfo[]): RunDetailInfo {
  const list = [...run.steps];
  const at = new Map(list.map((step, index) => [step.name, index]));
  for (const step of steps) {
    const index = at.get(step.name);
    if (index === undefined) {
      at.set(step.name, list.length);
      list.push(step);
    } else list[index] = step;
  }
  const dropped = Math.max(0, list.length - STEPS_KEPT);
  return {
    ...run,
    steps: dropped ? list.slice(dropped) : list,
    earlierStepsOmitted: run.earlierStepsOmitted || dropped > 0,
  };
}

/** Durable steps in the order they first started: which attempt last ran each, and how it went. */
function Steps({ steps: all, earlierOmitted }: { steps: StepInfo[]; earlierOmitted: boolean }) {
  const steps = all.slice(-STEPS_SHOWN);
  return (
    <>
      <h2>Steps</h2>
      {earlierOmitted || all.length > steps.length ? (
        <p class="muted">Earlier steps are not shown.</p>
      ) : null}
      <div class="table-wrap">
        <table aria-label="Steps" class="items">
          <ColumnHeads names={['Step', 'Status', 'Attempt', 'Started', 'Ended', 'Error']} />
          <tbody>
            {steps.map((step) => (
              <tr key={step.name}>
                <td>
                  <span class="item-key" title={step.name}>
                    {step.name}
                  </span>
                </td>
                <td>
                  <StatusBadge status={step.status} />
                </td>
                <td>{step.attempt}</td>
                <td>{formatTime(step.startedAt)}</td>
                <td>{formatTime(step.endedAt)}</td>
                <td class="wrap">{errorLine(step.error)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

type ChildInfo = RunDetailInfo['children'][number];
/** The children the page keeps: the newest, as many as the API shows. */
const CHILDREN_KEPT = 1000;
/** The children the table shows: the newest, as for steps. */
const CHILDREN_SHOWN = 200;

/** A child row from a run an event carries. */
function childOf(run: RunInfo): ChildInfo {
  const { id, job, status, createdAt, finishedAt } = run;
  return { id, job, status, createdAt, finishedAt };
}

/**
 * The run with `children` as live events reported them: a new child goes last (ids sort by
 * creation), an ended one never shows unfinished again, the oldest beyond CHILDREN_KEPT go.
 */
function withChildren(run: RunDetailInfo, children: ChildInfo[]): RunDetailInfo {
  const list = [...run.children];
  const at = new Map(list.map((child, index) => [child.id, index]));
  for (const child of children) {
    const index = at.get(child.id);
    if (index === undefined) {
      // One of the earlier children left out: it stays out.
      if (run.earlierChildrenOmitted && list.length && child.id < list[0]!.id) continue;
      at.set(child.id, list.length);
      list.push(child);
    } else if (isActive(list[index]!.status)) list[index] = child;
  }
  const dropped = Math.max(0, list.length - CHILDREN_KEPT);
  return {
    ...run,
    children: dropped ? list.slice(dropped) : list,
    earlierChildrenOmitted: run.earlierChildrenOmitted || dropped > 0,
  };
}

/** The runs this run's handler started, in the order it started them: where each is now. */
function Children(props: { runId: string; rows: ChildInfo[]; earlierOmitted: boolean }) {
  const { runId, rows: all, earlierOmitted } = props;
  const children = all.slice(-CHILDREN_SHOWN);
  return (
    <>
      <h2>Children</h2>
      {earlierOmitted || all.length > children.length ? (
        <p class="muted">
          Earlier children are not shown:{' '}
          <Link href={`/dashboard/runs?parent=${encodeURIComponent(runId)}`}>all child runs</Link>
        </p>
      ) : null}
      <div class="table-wrap">
        <table aria-label="Children" class="items">
          <ColumnHeads names={['Run', 'Job', 'Status', 'Ended']} />
          <tbody>
            {children.map((child) => (
              <tr key={child.id}>
                <td>
                  <Link href={runPath(child.id)}>
                    <code title={child.id}>{shortId(child.id)}</code>
                  </Link>
                </td>
                <td>{child.job}</td>
                <td>
                  <StatusBadge status={child.status} />
                </td>
                <td>{formatTime(child.finishedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Items({ items }: { items: RunInfo['items'] }) {
  return (
    <>
      <h2>Items</h2>
      <div class="table-wrap">
        <table aria-label="Items" class="items">
          <ColumnHeads names={['Item', 'Status', 'Error']} />
          <tbody>
            {items.map((item) => (
              <tr key={item.key}>
                <td>
                  {/* Names can be as long as their author likes: cut to keep Status in view. */}
                  <span class="item-key" title={item.key}>
                    {item.key}
                  </span>
                </td>
                <td>
                  <StatusBadge status={item.status} />
                </td>
                <td class="wrap">{errorLine(item.error)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** Live logs: level colours and filter; follows the tail unless the reader scrolled up. */
function Logs({ logs }: { logs: LogInfo[] }) {
  const [minLevel, setMinLevel] = useState<(typeof LEVELS)[number]>('debug');
  const [following, setFollowing] = useState(true);
  const box = useRef<HTMLDivElement>(null);
  const shown = logs.filter((l) => LEVELS.indexOf(l.level) >= LEVELS.indexOf(minLevel));
  useLayoutEffect(() => {
    if (following && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown[shown.length - 1]?.seq, following]);
  const onScroll = () => {
    const el = box.current;
    if (el) setFollowing(el.scrollHeight - el.scrollTop - el.clientHeight < 16);
  };
  return (
    <>
      <div class="title-row">
        <h2>Logs</h2>
        <label>
          Level{' '}
          <select
            value={minLevel}
            onChange={(e) => setMinLevel(e.currentTarget.value as (typeof LEVELS)[number])}
          >
            {LEVELS.map((level) => (
              <option key={level} value={level}>
                {level} and above
              </option>
            ))}
          </select>
        </label>
        {following ? null : (
          <button type="button" onClick={() => setFollowing(true)}>
            Follow latest
          </button>
        )}
      </div>
      <div class="logs" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label="Logs">
        {shown.length === 0 ? <p class="muted">No logs yet.</p> : null}
        {logs.length > 0 && logs[0]!.seq > 1 ? (
          <p class="muted">Older lines are not shown.</p>
        ) : null}
        {shown.map((entry) => (
          <LogLine key={entry.seq} entry={entry} />
        ))}
      </div>
    </>
  );
}

/** One log line, rendered once: a new line must not re-render (and re-format) the others. */
class LogLine extends Component<{ entry: LogInfo }> {
  override shouldComponentUpdate(next: { entry: LogInfo }): boolean {
    return next.entry !== this.props.entry;
  }

  override render() {
    const { entry } = this.props;
    return (
      <div class={`log log-${entry.level}`}>
        <time dateTime={entry.time}>{new Date(entry.time).toLocaleTimeString()}</time>
        <span class="level">{entry.level}</span>
        <span class="message">
          {entry.message}
          {entry.data === undefined ? '' : ' ' + JSON.stringify(entry.data)}
        </span>
      </div>
    );
  }
}
