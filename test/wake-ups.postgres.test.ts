/**
 * PostgreSQL wakes workers of other instances after a create commits, with one NOTIFY carrying
 * the jobs of every create since the last one, sent outside the creates' transactions (a NOTIFY
 * in each queued their commits on the server's notification lock).
 */
import { describe, expect, it } from 'vitest';
import { newRunId } from '../src/core/ids.js';
import { BASE, insertParams } from '../src/store/conformance/fixture.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();

const defer = cleanupAfterEach();

/** Two instances on one schema; `woken` collects the job payloads the second one hears. */
async function twoInstances() {
  const schema = freshSchema();
  const creator = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
  const worker = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
  await creator.migrate();
  defer(async () => {
    await creator.dropSchema();
    await Promise.all([creator.close(), worker.close()]);
  });
  const woken: string[] = [];
  await worker.notifications!.listen({ runAvailable: (job) => woken.push(job) });
  await pollUntil(() => worker.notifications!.healthy, { what: 'the listener to be healthy' });
  return { creator, woken };
}

describe.skipIf(!reachable)('wake-ups after creates on PostgreSQL', () => {
  it('a due run wakes the workers of its job once created; a run due later does not', async () => {
    const { creator, woken } = await twoInstances();
    await creator.runInsert(
      insertParams({ job: 'later', runAt: new Date(BASE.getTime() + 60_000) }),
    );
    await creator.runInsert(insertParams({ job: 'report' }));
    await pollUntil(() => woken.includes('report'), { what: 'the wake-up of job report' });
    expect(woken).not.toContain('later');
  });

  it('an exclusive create wakes the workers after its transaction commits', async () => {
    const { creator, woken } = await twoInstances();
    await creator.runInsert(insertParams({ job: 'nightly', exclusive: true }));
    await pollUntil(() => woken.includes('nightly'), { what: 'the wake-up of job nightly' });
  });

  it('a bulk insert wakes the workers of each of its due jobs once; runs due later wake none', async () => {
    const { creator, woken } = await twoInstances();
    const { now: _now, exclusive: _exclusive, ...run } = insertParams();
    const later = new Date(BASE.getTime() + 60_000);
    const runs = [
      ...Array.from({ length: 300 }, () => ({ ...run, id: newRunId(), job: 'report' })),
      { ...run, id: newRunId(), job: 'invoice' },
      { ...run, id: newRunId(), job: 'later', runAt: later },
    ];
    await creator.runInsertMany({ now: BASE, runs });
    // Notifications arrive in order: once a later create's is heard, the bulk insert's were.
    await creator.runInsert(insertParams({ job: 'marker' }));
    await pollUntil(() => woken.includes('marker'), { what: 'the wake-up of job marker' });
    const heard = woken.slice(0, woken.indexOf('marker'));
    expect(heard.filter((job) => job === 'report')).toHaveLength(1);
    expect(heard.filter((job) => job === 'invoice')).toHaveLength(1);
    expect(heard).not.toContain('later');
  });

  it('concurrent creates of many jobs wake every worker, none left out', async () => {
    const { creator, woken } = await twoInstances();
    const jobs = Array.from({ length: 60 }, (_, i) => `job-${i}`);
    await Promise.all(jobs.map((job) => creator.runInsert(insertParams({ job }))));
    // Each job is named, or an empty payload (every worker) was sent after its create.
    await pollUntil(() => woken.includes('') || jobs.every((job) => woken.includes(job)), {
      what: 'wake-ups for all 60 jobs',
    });
    // The coalescing is not stuck after the burst: a later create still wakes its workers.
    const heard = woken.length;
    await creator.runInsert(insertParams({ job: 'after-the-burst' }));
    await pollUntil(() => woken.slice(heard).includes('after-the-burst'), {
      what: 'the wake-up of a create after the burst',
    });
  });
});
