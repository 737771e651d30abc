import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { client, errorText, isActive, mayAct, type LogInfo, type RunInfo } from '../api.js';
import { ErrorNote, Facts, JsonBlock, Progress, StatusBadge } from '../components.js';
import { formatTime, runDuration } from '../format.js';
import { eventRun, useLiveEvents } from '../live.js';
import { Link, jobPath, navigate, runPath } from '../router.js';
import { useSession } from '../session.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const LOG_PAGE = 1000;

/** A run, followed live until it ends: status, progress, items, cancel record and logs. */
export function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<RunInfo | null>(null);
  const [logs, setLogs] = useState<LogInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [stopMode, setStopMode] = useState<'graceful' | 'force' | null>(null);
  const loaded = useRef(false);
  const lastSeq = useRef(0);

  const reload = async () => {
    try {
      setRun(await client.run(id));
      loaded.current = true;
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const loadLogs = async () => {
    try {
      for (;;) {
        const page = await client.logs(id, lastSeq.current);
        appendLogs(page);
        if (page.length < LOG_PAGE) break;
      }
    } catch (err) {
      setError(errorText(err));
    }
  };
  const appendLogs = (entries: LogInfo[]) => {
    const fresh = entries.filter((entry) => entry.seq > lastSeq.current);
    if (fresh.length === 0) return;
    lastSeq.current = fresh[fresh.length - 1]!.seq;
    setLogs((previous) => [...previous, ...fresh]);
  };

  useEffect(() => {
    void reload();
    void loadLogs();
  }, [id]);

  useLiveEvents((event) => {
    if (event.name === 'reset') {
      void reload();
      void loadLogs();
      return;
    }
    if (event.name === 'run.log' && 'entry' in event && event.runId === id) {
      // An entry past a gap (missed while loading) is fetched with what it skipped.
      if (event.entry.seq === lastSeq.current + 1) appendLogs([event.entry]);
      else if (event.entry.seq > lastSeq.current) void loadLogs();
      return;
    }
    const changed = eventRun(event);
    if (!changed || changed.id !== id) return;
    // The event's run has no input, result or items: keep ours, take everything else.
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
    if (event.name !== 'run.progress' || !loaded.current) void reload();
  });

  if (!run)
    return (
      <section>
        <h1>Run {id}</h1>
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
        <RunControls run={run} onStop={setStopMode} onError={setError} />
      </div>
      <ErrorNote error={error} />
      <Facts
        items={[
          ['Run', <code>{run.id}</code>],
          ['Attempt', `${run.attempt}/${run.maxAttempts}`],
          ['Started by', `${run.createdBy} (${run.trigger})`],
          ['Created', formatTime(run.createdAt)],
          ['Started', formatTime(run.startedAt)],
          ['Finished', formatTime(run.finishedAt)],
          ['Duration', runDuration(run)],
          ['Worker', run.workerId ? <code>{run.workerId.slice(0, 8)}</code> : '—'],
          ...(run.retryOf
            ? ([
                ['Retry of', <Link href={runPath(run.retryOf)}>{run.retryOf.slice(0, 8)}</Link>],
              ] as [string, preact.ComponentChildren][])
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
              ['Reason', run.cancel.reason ?? '—'],
            ]}
          />
        </div>
      ) : null}
      <JsonBlock title="Input" value={run.input} />
      {run.result !== null && run.result !== undefined ? (
        <JsonBlock title="Result" value={run.result} open />
      ) : null}
      {run.items.length ? <Items items={run.items} /> : null}
      <Logs logs={logs} />
      {stopMode ? (
        <StopDialog
          run={run}
          mode={stopMode}
          onClose={() => setStopMode(null)}
          onStopped={(stopped) =>
            setRun((previous) => (previous ? { ...previous, ...stopped } : stopped))
          }
        />
      ) : null}
    </section>
  );
}

function RunControls(props: {
  run: RunInfo;
  onStop: (mode: 'graceful' | 'force') => void;
  onError: (error: string | null) => void;
}) {
  const { run, onStop, onError } = props;
  const session = useSession();
  const [busy, setBusy] = useState(false);
  if (session.role === 'viewer') return null;
  const allowed = mayAct(session, run);
  const why = allowed
    ? undefined
    : `Only ${run.createdBy}, who started this run, or an admin can stop or retry it.`;
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
  const retryable = run.status === 'failed' || run.status === 'cancelled';
  if (!stoppable && !retryable) return null;
  return (
    <div class="controls">
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

/** The confirmation: what the mode does, a reason, then `Stop run`. */
function StopDialog(props: {
  run: RunInfo;
  mode: 'graceful' | 'force';
  onClose: () => void;
  onStopped: (run: RunInfo) => void;
}) {
  const { run, mode, onClose, onStopped } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const answer = await client.cancel(run.id, {
        mode,
        ...(reason.trim() ? { reason: reason.trim() } : {}),
      });
      onStopped(answer.run);
      onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  const title = mode === 'force' ? 'Stop immediately?' : 'Stop gracefully?';
  return (
    <dialog ref={dialog} aria-labelledby="stop-title" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <h2 id="stop-title">{title}</h2>
        <p>
          {mode === 'force'
            ? 'The handler is aborted now; its cleanups still run.'
            : 'The handler stops at its next checkpoint; the current step finishes first.'}
        </p>
        <label for="stop-reason">Reason</label>
        <textarea
          id="stop-reason"
          rows={3}
          maxLength={1000}
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
        <ErrorNote error={error} />
        <div class="dialog-buttons">
          <button type="button" onClick={() => dialog.current?.close()}>
            Keep running
          </button>
          <button type="submit" class="danger" disabled={busy}>
            Stop run
          </button>
        </div>
      </form>
    </dialog>
  );
}

function Items({ items }: { items: RunInfo['items'] }) {
  return (
    <>
      <h2>Items</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">Status</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={item.key}>
                <td>{item.key}</td>
                <td>
                  <StatusBadge status={item.status} />
                </td>
                <td>{item.error ? `${item.error.code}: ${item.error.message}` : ''}</td>
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
  }, [shown.length, following]);
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
        {shown.map((entry) => (
          <div key={entry.seq} class={`log log-${entry.level}`}>
            <time dateTime={entry.time}>{new Date(entry.time).toLocaleTimeString()}</time>
            <span class="level">{entry.level}</span>
            <span class="message">
              {entry.message}
              {entry.data === undefined ? '' : ' ' + JSON.stringify(entry.data)}
            </span>
          </div>
        ))}
      </div>
    </>
  );
}
