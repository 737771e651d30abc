import { useEffect, useState } from 'preact/hooks';
import { FINAL_STATUSES, RUN_STATUSES, client, errorText, isActive, type RunInfo } from '../api.js';
import { ErrorNote, StatusBadge } from '../components.js';
import { formatSpan } from '../format.js';
import { eventRun, useLiveEvents, useThrottled } from '../live.js';
import { Link } from '../router.js';
import { RunCharts } from './overview-charts.js';
import { RunsTable } from './runs.js';
import { useWorkers } from './workers.js';

/** What needs attention now: counts, active runs with live progress, failures, waiting, workers. */
export function OverviewPage() {
  const [counts, setCounts] = useState<Record<string, number>>({});
  const [active, setActive] = useState<RunInfo[]>([]);
  const [failures, setFailures] = useState<RunInfo[]>([]);
  const [oldestPendingMs, setOldestPendingMs] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { workers, error: workersError } = useWorkers();

  const load = async () => {
    try {
      const [stats, running, failed] = await Promise.all([
        client.stats(),
        client.runs({ status: ['running', 'cancelling'], limit: 100 }),
        client.runs({ status: ['failed'], limit: 5 }),
      ]);
      // Unfinished runs as they are now; finished ones over the last 24 h.
      const next: Record<string, number> = { ...stats.now.unfinished };
      for (const status of FINAL_STATUSES)
        next[status] = stats.buckets.reduce((sum, bucket) => sum + bucket.ended[status], 0);
      setCounts(next);
      setActive(running.runs);
      setFailures(failed.runs);
      setOldestPendingMs(stats.now.oldestPending?.ageMs ?? null);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), []);
  // Many events in a burst make one reload.
  const scheduleLoad = useThrottled(() => void load(), 300);
  useLiveEvents((event) => {
    const run = eventRun(event);
    if (event.name === 'run.progress' && run) {
      // Progress changes only a bar: update the row, no reload.
      setActive((rows) => rows.map((row) => (row.id === run.id ? { ...row, ...run } : row)));
      return;
    }
    if (event.name === 'reset' || run) scheduleLoad();
  });

  const alive = workers?.filter((w) => w.state === 'alive').length;
  return (
    <section>
      <h1>Overview</h1>
      <ErrorNote error={error ?? workersError} />
      <ul class="cards" aria-label="Runs by status">
        {RUN_STATUSES.map((status) => (
          <li key={status} class="card">
            <Link href={`/dashboard/runs?status=${status}${isActive(status) ? '' : '&range=24h'}`}>
              <span class="count">{counts[status] ?? '…'}</span>
              <StatusBadge status={status} />
              <span class="muted">{isActive(status) ? 'now' : 'last 24 h'}</span>
            </Link>
          </li>
        ))}
      </ul>
      <ul class="cards" aria-label="Health">
        <li class="card">
          <Link href="/dashboard/workers">
            <span class="count">{alive ?? '…'}</span> {alive === 1 ? 'worker' : 'workers'} alive
          </Link>
        </li>
        <li class="card">
          <span class="count">{oldestPendingMs === null ? '—' : formatSpan(oldestPendingMs)}</span>{' '}
          oldest pending
        </li>
      </ul>
      <RunCharts />
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
