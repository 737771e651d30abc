import type { AlertInfo } from '../../../client/client.js';
import { client } from '../api.js';
import { ErrorNote, StatusBadge, ColumnHeads } from '../components.js';
import { formatTime, shortId } from '../format.js';
import { useLiveEvents, usePolled, useThrottled } from '../live.js';
import { Link, jobPath, runPath } from '../router.js';

/** Deliveries retry on their own: the list is read again this often while open. */
export const ALERTS_REFRESH_MS = 5000;

/** What the state of a delivery says, with its latest failure when it failed. */
function deliveryText(delivery: AlertInfo['deliveries'][number]): string {
  const tries = delivery.attempts.length;
  const last = delivery.attempts[tries - 1];
  const failure = last && !last.ok ? ` — ${last.error ?? `HTTP ${last.status}`}` : '';
  return `${delivery.channel}: ${delivery.status}, ${tries} attempt${tries === 1 ? '' : 's'}${failure}`;
}

/** Recent alerts of every rule and instance, with the state of each delivery. */
export function AlertsPage() {
  const {
    data: alerts,
    error,
    reload,
  } = usePolled(() => client.alerts({ limit: 100 }), ALERTS_REFRESH_MS);
  // A run that ends badly or gets stuck may have just raised one: a burst reads the list once.
  const reloadSoon = useThrottled(reload, 300);
  useLiveEvents((event) => {
    if (event.name === 'run.finished' || event.name === 'run.stuck' || event.name === 'reset')
      reloadSoon();
  });
  return (
    <section>
      <h1>Alerts</h1>
      <ErrorNote error={error} />
      <div class="table-wrap">
        <table>
          <ColumnHeads
            names={['Time', 'Rule', 'Event', 'Job', 'Run', 'Severity', 'State', 'Deliveries']}
          />
          <tbody>
            {(alerts ?? []).map((alert) => (
              <tr key={alert.id}>
                <td>{formatTime(alert.createdAt)}</td>
                <td>{alert.rule}</td>
                <td>{alert.event}</td>
                <td>
                  <Link href={jobPath(alert.job)}>{alert.job}</Link>
                </td>
                <td>
                  {alert.runId ? (
                    <Link href={runPath(alert.runId)}>
                      <code>{shortId(alert.runId)}</code>
                    </Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{alert.severity}</td>
                <td>
                  <StatusBadge status={alert.state} />
                </td>
                <td>
                  {alert.deliveries.length === 0
                    ? '—'
                    : alert.deliveries.map((delivery) => (
                        <div key={delivery.channel} class="delivery">
                          {deliveryText(delivery)}
                        </div>
                      ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {alerts && alerts.length === 0 ? (
        <p class="muted">
          No alert yet. Rules live in the alerts file (<code>--alerts</code>); see the alerts guide.
        </p>
      ) : null}
    </section>
  );
}
