import { useEffect, useState } from 'preact/hooks';
import { RUN_STATUSES, client, errorText, type RunInfo } from '../api.js';
import { ErrorNote, StatusBadge } from '../components.js';
import { formatSpan } from '../format.js';
import { eventRun, useLiveEvents } from '../live.js';
import { Link } from '../router.js';
import { RunsTable } from './runs.js';
import { useWorkers } from './workers.js';

const COUNT_LIMIT = 500;

/** What needs attention now: counts, active runs with live progress, failures, waiting, workers. */
export function OverviewPage() {
  const [counts, setCounts] = useState<Record<string, string>>({});
  const [active, setActive] = useState<RunInfo[]>([]);
  const [failures, setFailures] = useState<RunInfo[]>([]);
  const [oldestPending, setOldestPending] = useState<RunInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { workers, error: workersError } = useWorkers();

  const load = async () => {
    try {
      const pages = await Promise.all(
        RUN_STATUSES.map((status) => client.runs({ status: [status], limit: COUNT_LIMIT })),
      );
      const next: Record<string, string> = {};
      RUN_STATUSES.forEach((status, i) => {
        const page = pages[i]!;
        next[status] = page.nextCursor ? `${COUNT_LIMIT}+` : String(page.runs.length);
      });
      setCounts(next);
      const [running, cancelling, pending, failed] = [2, 3, 1, 6].map((i) => pages[i]!.runs);
      setActive([...running!, ...cancelling!]);
      setFailures(failed!.slice(0, 5));
      setOldestPending(pending!.at(-1) ?? null);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), []);
  useLiveEvents((event) => {
    const run = eventRun(event);
    if (event.name === 'run.progress' && run) {
      // Progress changes only a bar: update the row, no reload.
      setActive((rows) => rows.map((row) => (row.id === run.id ? { ...row, ...run } : row)));
      return;
    }
    if (event.name === 'reset' || run) scheduleLoad();
  });
  // Many events in a burst make one reload.
  const [timer] = useState<{ id: number | undefined }>({ id: undefined });
  const scheduleLoad = () => {
    if (timer.id !== undefined) return;
    timer.id = window.setTimeout(() => {
      timer.id = undefined;
      void load();
    }, 300);
  };
  useEffect(() => () => clearTimeout(timer.id), []);

  const alive = workers?.filter((w) => w.state === 'alive').length;
  return (
    <section>
      <h1>Overview</h1>
      <ErrorNote error={error ?? workersError} />
      <ul class="cards" aria-label="Runs by status">
        {RUN_STATUSES.map((status) => (
          <li key={status} class="card">
            <Link href={`/dashboard/runs?status=${status}`}>
              <span class="count">{counts[status] ?? '…'}</span>
              <StatusBadge status={status} />
            </Link>
          </li>
        ))}
      </ul>
      <ul class="cards" aria-label="Health">
        <li class="card">
          <Link href="/dashboard/workers">
            <span class="count">{alive ?? '…'}</span> workers alive
          </Link>
        </li>
        <li class="card">
          <span class="count">
            {oldestPending ? formatSpan(Date.now() - Date.parse(oldestPending.createdAt)) : '—'}
          </span>{' '}
          oldest pending
        </li>
      </ul>
      <h2>Active runs</h2>
      {active.length ? (
        <div class="table-wrap">
          <RunsTable runs={active} />
        </div>
      ) : (
        <p class="muted">Nothing is running.</p>
      )}
      <h2>Recent failures</h2>
      {failures.length ? (
        <div class="table-wrap">
          <RunsTable runs={failures} />
        </div>
      ) : (
        <p class="muted">No failed runs.</p>
      )}
    </section>
  );
}
