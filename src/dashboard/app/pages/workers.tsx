import type { WorkerInfo } from '../../../client/client.js';
import { client } from '../api.js';
import { ErrorNote, StatusBadge, ColumnHeads } from '../components.js';
import { formatTime } from '../format.js';
import { usePolled } from '../live.js';
import { Link, runPath } from '../router.js';

/** How often the list is read again: instances beat every few seconds, not through the feed. */
export const WORKERS_REFRESH_MS = 5000;

/** Loads the instances now and every few seconds while mounted. */
export function useWorkers(): { workers: WorkerInfo[] | null; error: string | null } {
  const { data, error } = usePolled(() => client.workers(), WORKERS_REFRESH_MS);
  return { workers: data, error };
}

/** Every instance: role, version, last beat, what it runs. */
export function WorkersPage() {
  const { workers, error } = useWorkers();
  return (
    <section>
      <h1>Workers</h1>
      <ErrorNote error={error} />
      <div class="table-wrap">
        <table>
          <ColumnHeads
            names={[
              'Instance',
              'State',
              'Role',
              'Version',
              'Concurrency',
              'Started',
              'Last seen',
              'Running',
            ]}
          />
          <tbody>
            {(workers ?? []).map((worker) => (
              <tr key={worker.id}>
                <td>
                  {worker.host}:{worker.pid}{' '}
                  {/* In full: a UUIDv7 starts with a time, the same for instances started together. */}
                  <code class="muted">{worker.id}</code>
                </td>
                <td>
                  <StatusBadge status={worker.state} />
                </td>
                <td>{worker.role}</td>
                <td>{worker.version}</td>
                <td>{worker.concurrency ?? '—'}</td>
                <td>{formatTime(worker.startedAt)}</td>
                <td>{formatTime(worker.lastSeenAt)}</td>
                <td>
                  {worker.runs.length === 0
                    ? '—'
                    : worker.runs.map((run) => (
                        <div key={run.id}>
                          <Link href={runPath(run.id)}>{run.job}</Link>{' '}
                          <StatusBadge status={run.status} />
                        </div>
                      ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {workers && workers.length === 0 ? <p class="muted">No instance is registered.</p> : null}
    </section>
  );
}
