import { useEffect, useRef, useState } from 'preact/hooks';
import { ERROR_CODES, isErrorCode } from '../../../core/errors.js';
import {
  ApiError,
  RUN_STATUSES,
  client,
  errorText,
  fieldErrors,
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
  /** Only the children of this run: set by the run page's link, shown above the table. */
  parent: string;
}

/** The filters' names on the page, for the API's field errors (`q` is "Search runs"). */
const FILTER_LABELS: Record<string, string> = {
  status: 'Status',
  job: 'Job',
  createdBy: 'Started by',
  from: 'Created',
  q: 'Search runs',
  parentId: 'Child runs of',
};
const ERROR_ID = 'runs-error';

const readFilters = (query: URLSearchParams): Filters => ({
  status: query.get('status') ?? '',
  job: query.get('job') ?? '',
  createdBy: query.get('createdBy') ?? '',
  q: query.get('q') ?? '',
  range: query.get('range') ?? '',
  // ?parentId= as the API names it works too.
  parent: query.get('parent') ?? query.get('parentId') ?? '',
});

/** Whether a run (new, from the live feed) belongs in the table under these filters. */
function matches(run: RunInfo, f: Filters): boolean {
  return (
    (!f.status || run.status === f.status) &&
    (!f.job || run.job === f.job) &&
    (!f.createdBy || run.createdBy === f.createdBy) &&
    (!f.q || run.id.startsWith(f.q.trim())) &&
    (!f.parent || run.parentId === f.parent)
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
  // The filters the API refused, marked on their controls.
  const [invalid, setInvalid] = useState<ReadonlyMap<string, string>>(new Map());
  const loads = useRef(0);
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
    // Answers can come back out of order (filters changed meanwhile): only the latest may show.
    const ticket = ++loads.current;
    setLoading(true);
    try {
      const from = RANGES[filters.range];
      const filter = {
        ...(filters.status ? { status: [filters.status as (typeof RUN_STATUSES)[number]] } : {}),
        ...(filters.job ? { job: filters.job } : {}),
        ...(filters.createdBy ? { createdBy: filters.createdBy } : {}),
        ...(filters.q.trim() ? { q: filters.q.trim() } : {}),
        ...(filters.parent ? { parentId: filters.parent } : {}),
        ...(from ? { from: new Date(Date.now() - from).toISOString() } : {}),
        limit: PAGE_SIZE,
        ...(after ? { cursor: after } : {}),
      };
      const page = await client.runs(filter);
      if (ticket !== loads.current) return;
      setRuns((previous) => (after ? [...previous, ...page.runs] : page.runs));
      setCursor(page.nextCursor);
      setError(null);
      setInvalid(new Map());
    } catch (err) {
      if (ticket !== loads.current) return;
      // The rows shown were read for other filters: after a refused read they would mislead.
      if (!after) {
        setRuns([]);
        setCursor(null);
      }
      setError(errorText(err, FILTER_LABELS));
      setInvalid(fieldErrors(err));
    } finally {
      if (ticket === loads.current) setLoading(false);
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
    setReport({ action: 'Stop', outcomes: answer.results.map(stopOutcome) });
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
    if (name === 'parent') next.delete('parentId');
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
        <TextFilter
          label="Started by"
          type="text"
          value={filters.createdBy}
          placeholder="principal"
          invalid={invalid.has('createdBy')}
          onApply={(value) => setFilter('createdBy', value)}
        />
        <label>
          Created
          <select value={filters.range} onChange={(e) => setFilter('range', e.currentTarget.value)}>
            <option value="">Any time</option>
            <option value="1h">Last hour</option>
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
          </select>
        </label>
        <TextFilter
          label="Search runs"
          type="search"
          value={filters.q}
          placeholder="run id or its start"
          invalid={invalid.has('q')}
          onApply={(value) => setFilter('q', value)}
        />
      </form>
      {filters.parent ? (
        <p>
          Child runs of <Link href={runPath(filters.parent)}>{shortId(filters.parent)}</Link>{' '}
          <button type="button" onClick={() => setFilter('parent', '')}>
            Show all runs
          </button>
        </p>
      ) : null}
      <ErrorNote error={error} id={ERROR_ID} />
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
      {!loading && !error && runs.length === 0 ? <p class="muted">No runs match.</p> : null}
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

/**
 * A filter typed into. The text is the box's own until Enter or leaving the box applies it, so
 * the page's live refreshes never overwrite what is being typed; a new value from the URL (a
 * link, Back) replaces it.
 */
function TextFilter(props: {
  label: string;
  type: 'text' | 'search';
  value: string;
  placeholder: string;
  invalid: boolean;
  onApply: (value: string) => void;
}) {
  const { label, type, value, placeholder, invalid, onApply } = props;
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  return (
    <label>
      {label}
      <input
        type={type}
        value={draft}
        placeholder={placeholder}
        aria-invalid={invalid}
        aria-describedby={invalid ? ERROR_ID : undefined}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onChange={(e) => onApply(e.currentTarget.value.trim())}
      />
    </label>
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

/** A line of `POST /api/runs/cancel`'s report; a refusal reads as Retry's, in the API's words. */
function stopOutcome(result: {
  id: string;
  outcome: string;
  status?: string;
  error?: string;
  message?: string;
}): BulkOutcome {
  const done = (text: string): BulkOutcome => ({ id: result.id, kind: 'done', text });
  switch (result.outcome) {
    case 'cancel-now':
      return done('cancelled at once: no handler was running');
    case 'request':
      return done('stopping at its next checkpoint');
    case 'force':
      return done('stopped immediately');
    case 'unchanged':
      return done(`unchanged: already ${result.status ?? 'stopping'}`);
  }
  const code = result.error ?? result.outcome;
  return {
    id: result.id,
    kind: 'refused',
    text: refusal(isErrorCode(code) ? ERROR_CODES[code].status : null, result.message ?? code),
  };
}

/** How both bulk actions word a refusal: the HTTP status, then the API's message. */
const refusal = (status: number | null, message: string) =>
  status === null ? `refused: ${message}` : `refused (${status}): ${message}`;

/** A refused call, with its HTTP status when the API answered. */
function refusalText(err: unknown): string {
  return err instanceof ApiError ? refusal(err.status, err.message) : `failed: ${errorText(err)}`;
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
