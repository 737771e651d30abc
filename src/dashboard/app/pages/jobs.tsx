import { useEffect, useState } from 'preact/hooks';
import { client, errorText, type JobInfo, type RunInfo } from '../api.js';
import { Description, ErrorNote, Facts, ColumnHeads } from '../components.js';
import { formatSpan, formatTime, formatWindow } from '../format.js';
import { useLiveEvents } from '../live.js';
import { Link, jobPath } from '../router.js';
import { useSession } from '../session.js';
import { RunsTable } from './runs.js';
import { TriggerForm } from './trigger-form.js';

function scheduleText(schedule: JobInfo['schedule']): string {
  if (!schedule) return '—';
  if (schedule.kind === 'every') return `every ${formatSpan(schedule.everyMs)}`;
  return `cron ${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : ''}`;
}

/** Every registered job. */
export function JobsPage() {
  const [jobs, setJobs] = useState<JobInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => client.jobs().then(setJobs, (err: unknown) => setError(errorText(err)));
  useEffect(() => void load(), []);
  useLiveEvents((event) => {
    if (event.name === 'job.updated' || event.name === 'reset') void load();
  });
  return (
    <section>
      <h1>Jobs</h1>
      <ErrorNote error={error} />
      <div class="table-wrap">
        <table>
          <ColumnHeads names={['Job', 'Category', 'Description', 'Schedule', 'Enabled']} />
          <tbody>
            {(jobs ?? []).map((job) => (
              <tr key={job.name}>
                <td>
                  <Link href={jobPath(job.name)}>{job.name}</Link>
                </td>
                <td>{job.category}</td>
                <td>
                  <Description text={job.description} />
                </td>
                <td>{scheduleText(job.schedule)}</td>
                <td>{job.enabled ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** One job: settings, Enabled switch (admin), next slot, latest runs, Trigger form (operator). */
export function JobPage({ name }: { name: string }) {
  const session = useSession();
  const [job, setJob] = useState<JobInfo | null>(null);
  const [runs, setRuns] = useState<RunInfo[]>([]);
  const [next, setNext] = useState<RunInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [triggering, setTriggering] = useState(false);
  const [switching, setSwitching] = useState(false);

  const load = async () => {
    try {
      const [view, scheduled] = await Promise.all([
        client.job(name),
        client.runs({ job: name, status: ['scheduled'], limit: 1 }),
      ]);
      setJob(view.job);
      setRuns(view.runs);
      setNext(scheduled.runs[0] ?? null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => void load(), [name]);
  useLiveEvents((event) => {
    if (event.name === 'reset') return void load();
    if (event.name === 'job.updated' && 'job' in event && event.job.name === name) void load();
    else if ('run' in event && event.run.job === name && event.name !== 'run.progress') void load();
  });

  const toggle = async () => {
    if (!job) return;
    setSwitching(true);
    try {
      setJob(await client.setEnabled(job.name, !job.enabled));
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSwitching(false);
    }
  };

  if (!job)
    return (
      <section>
        <h1>{name}</h1>
        {error ? <ErrorNote error={error} /> : <p class="muted">Loading…</p>}
      </section>
    );
  const finished = runs.filter((r) =>
    ['completed', 'partial', 'failed', 'cancelled'].includes(r.status),
  );
  const succeeded = finished.filter((r) => r.status === 'completed').length;
  const mayTrigger = session.role !== 'viewer' && job.canTrigger;
  return (
    <section>
      <div class="title-row">
        <h1>{job.name}</h1>
        {mayTrigger && !triggering ? (
          <button
            type="button"
            class="primary"
            disabled={!job.enabled}
            onClick={() => setTriggering(true)}
          >
            Trigger
          </button>
        ) : null}
      </div>
      <Description text={job.description} />
      <ErrorNote error={error} />
      <div class="switch-row">
        {session.role === 'admin' ? (
          <label class="switch">
            <input
              type="checkbox"
              role="switch"
              checked={job.enabled}
              disabled={switching}
              onChange={() => void toggle()}
            />
            <span>Enabled</span>
          </label>
        ) : (
          <span>{job.enabled ? 'Enabled' : 'Disabled'}</span>
        )}
      </div>
      <Facts
        items={[
          ['Category', job.category],
          ['Schedule', scheduleText(job.schedule)],
          ['Next slot', next ? formatTime(next.runAt) : '—'],
          ['Concurrency', job.concurrency === null ? 'unlimited' : String(job.concurrency)],
          [
            'Rate limit',
            job.rateLimit
              ? `${job.rateLimit.max} starts per ${formatWindow(job.rateLimit.perMs)}`
              : 'none',
          ],
          ['Overlapping runs', job.allowConcurrent ? 'allowed' : 'one at a time'],
          ['Attempts', String(job.maxAttempts)],
          ['Time-out', job.timeoutMs === null ? 'none' : formatSpan(job.timeoutMs)],
          ['Isolation', job.isolation],
          [
            'Success rate',
            finished.length
              ? `${Math.round((succeeded / finished.length) * 100)} % of the last ${finished.length}`
              : '—',
          ],
        ]}
      />
      {triggering ? <TriggerForm job={job} onCancel={() => setTriggering(false)} /> : null}
      <h2>Latest runs</h2>
      <div class="table-wrap">
        <RunsTable runs={runs} />
      </div>
      <p>
        <Link href={`/dashboard/runs?job=${encodeURIComponent(job.name)}`}>
          All runs of {job.name}
        </Link>
      </p>
    </section>
  );
}
