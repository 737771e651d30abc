import { useEffect, useRef, useState } from 'preact/hooks';
import { RUN_STATUSES, client, errorText, type JobInfo, type RunInfo } from '../api.js';
import { ErrorNote, Progress, StatusBadge } from '../components.js';
import { formatTime, runDuration, shortId } from '../format.js';
import { eventRun, useLiveEvents } from '../live.js';
import { Link, jobPath, navigate, runPath, useLocation } from '../router.js';

const PAGE_SIZE = 25;
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
    void load(null);
  }, [key]);
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
    // Rows change in place; they never move.
    setRuns((previous) =>
      previous.map((row) => {
        if (row.id !== run.id) return row;
        known = true;
        return { ...row, ...run, input: row.input, result: row.result, items: row.items };
      }),
    );
    if (!known && event.name === 'run.created' && matches(run, filters)) {
      // New runs go on top, but not while the pointer is on the table (rows would jump under it).
      if (pointerInside.current) setWaiting((w) => [run, ...w.filter((r) => r.id !== run.id)]);
      else
        setRuns((previous) =>
          previous.some((r) => r.id === run.id) ? previous : [run, ...previous],
        );
    }
  });

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
      {waiting.length ? (
        <button type="button" class="new-runs" onClick={showWaiting}>
          Show {waiting.length} new {waiting.length === 1 ? 'run' : 'runs'}
        </button>
      ) : null}
      <div
        class="table-wrap"
        onPointerEnter={() => (pointerInside.current = true)}
        onPointerLeave={() => {
          pointerInside.current = false;
          if (waiting.length) showWaiting();
        }}
      >
        <RunsTable runs={runs} />
      </div>
      {!loading && runs.length === 0 ? <p class="muted">No runs match.</p> : null}
      {cursor ? (
        <button type="button" disabled={loading} onClick={() => void load(cursor)}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

/** The runs table: one row per run, its id a link to the run's page. */
export function RunsTable({ runs, caption }: { runs: RunInfo[]; caption?: string }) {
  const now = Date.now();
  return (
    <table class="runs">
      {caption ? <caption>{caption}</caption> : null}
      <thead>
        <tr>
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
