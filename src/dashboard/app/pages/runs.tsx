import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  RUN_STATUSES,
  client,
  errorText,
  isRetryable,
  type JobInfo,
  type RunInfo,
} from '../api.js';
import { ErrorNote, Progress, StatusBadge, StopDialog, type StopMode } from '../components.js';
import { formatTime, runDuration, shortId } from '../format.js';
import { eventRun, useLiveEvents } from '../live.js';
import { Link, jobPath, navigate, runPath, useLocation } from '../router.js';
import { useSession } from '../session.js';

const PAGE_SIZE = 25;
/** Retries sent at once: enough to be quick, few enough not to crowd the server. */
const RETRY_CONCURRENCY = 4;
const RANGES: Record<string, number> = { '1h': 3600_000, '24h': 86_400_000, '7d': 604_800_000 };

interface Filters {
  status: string;
  job: string;
  createdBy: string;
  q: string;
  range: string;
}

const readFilters = (query: URLSearchParams): Filters => ({
  status: query.get('status') ?? '',
  job: query.get('job') ?? '',
  createdBy: query.get('createdBy') ?? '',
  q: query.get('q') ?? '',
  range: query.get('range') ?? '',
});

/** Whether a run (new, from the live feed) belongs in the table under these filters. */
function matches(run: RunInfo, f: Filters): boolean {
  return (
    (!f.status || run.status === f.status) &&
    (!f.job || run.job === f.job) &&
    (!f.createdBy || run.createdBy === f.createdBy) &&
    (!f.q || run.id.startsWith(f.q.trim()))
  );
}

/** Every run, newest first: filters in the URL, cursor paging, rows updated live in place. */
export function RunsPage() {
  const { query } = useLocation();
  const filters = readFilters(query);
  const key = JSON.stringify(filters);
  const [runs, setRuns] = useState<RunInfo[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  const [waiting, setWaiting] = useState<RunInfo[]>([]);
  const pointerInside = useRef(false);
  const session = useSession();
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  // The runs the open Stop dialog is about (null: no dialog).
  const [stopping, setStopping] = useState<RunInfo[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<BulkReport | null>(null);
  const reportHeading = useRef<HTMLHeadingElement>(null);
  const canAct = session.role !== 'viewer';
  // Only loaded rows count: a row gone after a reload is no longer selected.
  const selected = runs.filter((run) => chosen.has(run.id));

  const load = async (after: string | null) => {
    setLoading(true);
    try {
      const from = RANGES[filters.range];
      const filter = {
        ...(filters.status ? { status: [filters.status as (typeof RUN_STATUSES)[number]] } : {}),
        ...(filters.job ? { job: filters.job } : {}),
        ...(filters.createdBy ? { createdBy: filters.createdBy } : {}),
        ...(filters.q.trim() ? { q: filters.q.trim() } : {}),
        ...(from ? { from: new Date(Date.now() - from).toISOString() } : {}),
        limit: PAGE_SIZE,
        ...(after ? { cursor: after } : {}),
      };
      const page = await client.runs(filter);
      setRuns((previous) => (after ? [...previous, ...page.runs] : page.runs));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    setWaiting([]);
    setChosen(new Set());
    void load(null);
  }, [key]);
  useEffect(() => {
    // A new report takes the focus, so keyboard and screen-reader users land on it.
    if (report) reportHeading.current?.focus();
  }, [report]);
  useEffect(() => {
    client.jobs().then(setJobs, (err: unknown) => setError(errorText(err)));
  }, []);

  const showWaiting = () => {
    setRuns((previous) => [...waiting, ...previous]);
    setWaiting([]);
  };

  useLiveEvents((event) => {
    if (event.name === 'reset') return void load(null);
    const run = eventRun(event);
    if (!run) return;
    let known = false;
    // Rows change in place; they never move. Runs waiting to be shown stay current too.
    const update = (rows: RunInfo[]) =>
      rows.map((row) => {
        if (row.id !== run.id) return row;
        known = true;
        return { ...row, ...run, input: row.input, result: row.result, items: row.items };
      });
    setRuns(update);
    setWaiting(update);
    if (!known && event.name === 'run.created' && matches(run, filters)) {
      // New runs go on top, but not while the pointer is on the table (rows would jump under it).
      if (pointerInside.current) setWaiting((w) => [run, ...w.filter((r) => r.id !== run.id)]);
      else
        setRuns((previous) =>
          previous.some((r) => r.id === run.id) ? previous : [run, ...previous],
        );
    }
  });

  const selection: Selection = {
    chosen,
    toggle: (id) =>
      setChosen((previous) => {
        const next = new Set(previous);
        if (!next.delete(id)) next.add(id);
        return next;
      }),
    toggleAll: () =>
      setChosen(selected.length === runs.length ? new Set() : new Set(runs.map((run) => run.id))),
  };

  const stop = async (targets: RunInfo[], options: { mode: StopMode; reason?: string }) => {
    const answer = await client.cancelMany({ ids: targets.map((run) => run.id), ...options });
    const status = new Map(answer.results.map((r) => [r.id, r.status]));
    // The feed brings the same change; this shows it without waiting for it.
    setRuns((previous) =>
      previous.map((row) => {
        const now = status.get(row.id);
        return now && now !== row.status ? { ...row, status: now as RunInfo['status'] } : row;
      }),
    );
    const byId = new Map(targets.map((run) => [run.id, run]));
    setReport({
      action: 'Stop',
      outcomes: answer.results.map((result) => stopOutcome(result, byId.get(result.id))),
    });
    setChosen(new Set());
  };

  const retry = async () => {
    const targets = selected;
    setBusy(true);
    const outcomes = new Map<string, BulkOutcome>();
    await eachLimited(targets, RETRY_CONCURRENCY, async (run) => {
      if (!isRetryable(run.status)) {
        outcomes.set(run.id, {
          id: run.id,
          kind: 'skipped',
          text: `not retried: it is ${run.status}; only failed or cancelled runs can be retried`,
        });
        return;
      }
      try {
        const next = await client.retry(run.id);
        outcomes.set(run.id, { id: run.id, kind: 'done', text: 'retried as', next: next.id });
      } catch (err) {
        outcomes.set(run.id, { id: run.id, kind: 'refused', text: refusalText(err) });
      }
    });
    setReport({ action: 'Retry', outcomes: targets.map((run) => outcomes.get(run.id)!) });
    setChosen(new Set());
    setBusy(false);
  };

  const setFilter = (name: keyof Filters, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(name, value);
    else next.delete(name);
    const qs = next.toString();
    navigate(`/dashboard/runs${qs ? `?${qs}` : ''}`, { replace: true });
  };

  return (
    <section>
      <h1>Runs</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select
            value={filters.status}
            onChange={(e) => setFilter('status', e.currentTarget.value)}
          >
            <option value="">All</option>
            {RUN_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </label>
        <label>
          Job
          <select value={filters.job} onChange={(e) => setFilter('job', e.currentTarget.value)}>
            <option value="">All</option>
            {jobs.map((job) => (
              <option key={job.name} value={job.name}>
                {job.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Started by
          <input
            type="text"
            value={filters.createdBy}
            placeholder="principal"
            onChange={(e) => setFilter('createdBy', e.currentTarget.value.trim())}
          />
        </label>
        <label>
          Created
          <select value={filters.range} onChange={(e) => setFilter('range', e.currentTarget.value)}>
            <option value="">Any time</option>
            <option value="1h">Last hour</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
          </select>
        </label>
        <label>
          Search runs
          <input
            type="search"
            value={filters.q}
            placeholder="run id or its start"
            onChange={(e) => setFilter('q', e.currentTarget.value.trim())}
          />
        </label>
      </form>
      <ErrorNote error={error} />
      <div class="table-bar">
        {canAct ? (
          <div class="bulk" role="group" aria-label="Selected runs">
            <span aria-live="polite" class={selected.length ? '' : 'muted'}>
              {selected.length
                ? `${selected.length} selected`
                : 'Select runs to stop or retry them.'}
            </span>
            {selected.length ? (
              <>
                <button type="button" class="danger" onClick={() => setStopping(selected)}>
                  Stop
                </button>
                <button type="button" disabled={busy} onClick={() => void retry()}>
                  Retry
                </button>
                <button type="button" onClick={() => setChosen(new Set())}>
                  Clear selection
                </button>
              </>
            ) : null}
          </div>
        ) : null}
        {waiting.length ? (
          // Here, in the bar's own space, so it appears without moving the rows.
          <button type="button" class="new-runs" onClick={showWaiting}>
            Show {waiting.length} new {waiting.length === 1 ? 'run' : 'runs'}
          </button>
        ) : null}
      </div>
      {report ? (
        <BulkResults report={report} heading={reportHeading} onDismiss={() => setReport(null)} />
      ) : null}
      <div
        class="table-wrap"
        onPointerEnter={() => (pointerInside.current = true)}
        onPointerLeave={() => {
          pointerInside.current = false;
          if (waiting.length) showWaiting();
        }}
      >
        <RunsTable runs={runs} {...(canAct ? { selection } : {})} />
      </div>
      {!loading && runs.length === 0 ? <p class="muted">No runs match.</p> : null}
      {cursor ? (
        <button type="button" disabled={loading} onClick={() => void load(cursor)}>
          Load more
        </button>
      ) : null}
      {stopping ? (
        <StopDialog
          mode="graceful"
          count={stopping.length}
          onConfirm={(options) => stop(stopping, options)}
          onClose={() => setStopping(null)}
        />
      ) : null}
    </section>
  );
}

/** What a bulk action did to one run: done, refused by the API, or not tried (`skipped`). */
interface BulkOutcome {
  id: string;
  kind: 'done' | 'refused' | 'skipped';
  text: string;
  /** The run a retry started. */
  next?: string;
}

interface BulkReport {
  action: 'Stop' | 'Retry';
  outcomes: BulkOutcome[];
}

/** A line of `POST /api/runs/cancel`'s report, said as the run page would say it. */
function stopOutcome(
  result: { id: string; outcome: string; status?: string; error?: string },
  run: RunInfo | undefined,
): BulkOutcome {
  const done = (text: string): BulkOutcome => ({ id: result.id, kind: 'done', text });
  const refused = (text: string): BulkOutcome => ({ id: result.id, kind: 'refused', text });
  switch (result.outcome) {
    case 'cancel-now':
      return done('cancelled before it started');
    case 'request':
      return done('stopping at its next checkpoint');
    case 'force':
      return done('stopped immediately');
    case 'unchanged':
      return done(`unchanged: already ${result.status ?? 'stopping'}`);
  }
  switch (result.error) {
    case 'FORBIDDEN':
      return refused(
        `refused (403): only ${run?.createdBy ?? 'the principal who started it'}, who started it, or an admin can stop it`,
      );
    case 'RUN_FINISHED':
      return refused(`refused (409): it already ended ${result.status ?? ''}`.trimEnd());
    case 'RUN_NOT_FOUND':
      return refused('refused (404): no run has this id');
    default:
      return refused(`refused: ${result.error ?? result.outcome}`);
  }
}

/** A refused call, with its HTTP status when the API answered. */
function refusalText(err: unknown): string {
  return err instanceof ApiError
    ? `refused (${err.status}): ${err.message}`
    : `failed: ${errorText(err)}`;
}

/** Calls `work` for every item, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** What a bulk Stop or Retry did, run by run, until dismissed. */
function BulkResults(props: {
  report: BulkReport;
  heading: preact.RefObject<HTMLHeadingElement>;
  onDismiss: () => void;
}) {
  const { report, heading, onDismiss } = props;
  const count = (kind: BulkOutcome['kind']) =>
    report.outcomes.filter((outcome) => outcome.kind === kind).length;
  const summary = (
    [
      ['done', 'done'],
      ['refused', 'refused'],
      ['skipped', 'not tried'],
    ] as const
  )
    .filter(([kind]) => count(kind) > 0)
    .map(([kind, word]) => `${count(kind)} ${word}`)
    .join(', ');
  return (
    <section class="bulk-results" aria-labelledby="bulk-results-title">
      <div class="title-row">
        <h2 id="bulk-results-title" ref={heading} tabIndex={-1}>
          {report.action}: {summary}
        </h2>
        <button type="button" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
      <ul>
        {report.outcomes.map((outcome) => (
          <li key={outcome.id} class={`outcome-${outcome.kind}`} data-run={outcome.id}>
            <Link href={runPath(outcome.id)} aria-label={`Run ${outcome.id}`}>
              <code>{shortId(outcome.id)}</code>
            </Link>{' '}
            {outcome.text}
            {outcome.next ? (
              <>
                {' '}
                <Link href={runPath(outcome.next)} aria-label={`Run ${outcome.next}`}>
                  <code>{shortId(outcome.next)}</code>
                </Link>
              </>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Which rows are selected, and how to change that (operators and admins). */
interface Selection {
  chosen: ReadonlySet<string>;
  toggle: (id: string) => void;
  toggleAll: () => void;
}

/** The runs table: one row per run, its id a link to the run's page. */
export function RunsTable(props: { runs: RunInfo[]; caption?: string; selection?: Selection }) {
  const { runs, caption, selection } = props;
  const now = Date.now();
  const picked = selection ? runs.filter((run) => selection.chosen.has(run.id)).length : 0;
  return (
    <table class="runs">
      {caption ? <caption>{caption}</caption> : null}
      <thead>
        <tr>
          {selection ? (
            <th scope="col" class="select">
              <input
                type="checkbox"
                aria-label="Select all loaded runs"
                checked={runs.length > 0 && picked === runs.length}
                indeterminate={picked > 0 && picked < runs.length}
                disabled={runs.length === 0}
                onChange={selection.toggleAll}
              />
            </th>
          ) : null}
          <th scope="col">Status</th>
          <th scope="col">Job</th>
          <th scope="col">Run</th>
          <th scope="col">Started by</th>
          <th scope="col">Created</th>
          <th scope="col">Duration</th>
          <th scope="col">Progress</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id} data-run={run.id}>
            {selection ? (
              <td class="select">
                <input
                  type="checkbox"
                  aria-label={`Select run ${run.id}`}
                  checked={selection.chosen.has(run.id)}
                  onChange={() => selection.toggle(run.id)}
                />
              </td>
            ) : null}
            <td>
              <StatusBadge status={run.status} />
            </td>
            <td>
              <Link href={jobPath(run.job)}>{run.job}</Link>
            </td>
            <td>
              <Link href={runPath(run.id)} aria-label={`Run ${run.id}`}>
                <code>{shortId(run.id)}</code>
              </Link>
            </td>
            <td>{run.createdBy}</td>
            <td>{formatTime(run.createdAt)}</td>
            <td>{runDuration(run, now)}</td>
            <td>
              <Progress progress={run.progress} label={`Progress of ${shortId(run.id)}`} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
