import { afterEach, describe, expect, it } from 'vitest';
import { TestClock } from '../src/core/clock.js';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { tempDbPath } from './helpers/temp.js';

// Schedule slots across instances and backends: test/runtime-conformance/schedules.ts.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An instance without a worker or timers of its own: the test drives passes by hand. */
async function maintenanceDeck(jobs: ReturnType<typeof defineJob>[], clock: TestClock) {
  const { path, cleanup } = tempDbPath();
  cleanups.push(cleanup);
  const deck = new Jobdeck({
    store: new SqliteStore({ path }),
    jobs,
    clock,
    worker: false,
    scheduler: { tickMs: 3_600_000 },
    maintenance: { intervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
  });
  await deck.start();
  cleanups.push(() => deck.close());
  return deck;
}

describe('maintenance', () => {
  it('expires runs not started within expireAfter', async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const job = defineJob({ name: 'fresh', expireAfter: '1m', run: () => null });
    const deck = await maintenanceDeck([job], clock);
    const { run } = await deck.runs.create({ job: 'fresh' });
    clock.advance(59_000);
    await deck.maintenance!.runOnce();
    expect((await deck.runs.get(run.id)).status).toBe('pending');
    clock.advance(2_000);
    await deck.maintenance!.runOnce();
    const expired = await deck.runs.get(run.id);
    expect(expired).toMatchObject({
      status: 'cancelled',
      cancel: { reason: 'expired', requestedBy: 'system' },
    });
  });

  it('deletes finished runs after their retention and never unfinished ones', async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const job = defineJob({ name: 'kept', retention: '1d', run: () => null });
    const deck = await maintenanceDeck([job], clock);
    const { run: finished } = await deck.runs.create({ job: 'kept' });
    await deck.cancels.cancel(finished.id, {}, { name: 'root', role: 'admin' });
    const { run: waiting } = await deck.runs.create({ job: 'kept' });
    clock.advance(23 * 3_600_000);
    expect(await deck.maintenance!.retention()).toBe(0);
    clock.advance(2 * 3_600_000);
    expect(await deck.maintenance!.retention()).toBe(1);
    await expect(deck.runs.get(finished.id)).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    expect((await deck.runs.get(waiting.id)).status).toBe('pending');
  });
});

describe('scheduler', () => {
  it("an exclusive job's slot waits quietly while its run is active, and is inserted once it ends", async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const job = defineJob({
      name: 'hourly',
      schedule: { every: '1h' },
      allowConcurrent: false,
      run: () => null,
    });
    const { path, cleanup } = tempDbPath();
    cleanups.push(cleanup);
    const errors: unknown[] = [];
    const deck = new Jobdeck({
      store: new SqliteStore({ path }),
      jobs: [job],
      clock,
      worker: false,
      scheduler: { tickMs: 3_600_000 },
      maintenance: false,
      onError: (err) => errors.push(err),
    });
    await deck.start();
    cleanups.push(() => deck.close());
    const slots = async () =>
      (await deck.runs.list({ limit: 10 })).runs.map((run) => run.runAt.toISOString()).sort();
    await deck.scheduler!.tick();
    expect(await slots()).toEqual(['2030-01-01T01:00:00.000Z']);

    // The 01:00 run starts and is still running when the next slot would be inserted.
    clock.advance(3_600_000);
    const [running] = await deck.store.runClaim({
      workerId: 'w',
      now: clock.now(),
      leaseMs: 7_200_000,
      limit: 1,
      jobs: [{ name: 'hourly', concurrency: null }],
    });
    expect(running).toBeDefined();
    await deck.scheduler!.tick();
    expect(await slots()).toEqual(['2030-01-01T01:00:00.000Z']);
    expect(errors).toEqual([]);

    await deck.store.runFinishIfAttempt({
      ref: { id: running!.id, attempt: running!.attempt, workerId: 'w' },
      now: clock.now(),
      outcome: { status: 'completed', result: null },
    });
    await deck.scheduler!.tick();
    expect(await slots()).toEqual(['2030-01-01T01:00:00.000Z', '2030-01-01T02:00:00.000Z']);
    expect(errors).toEqual([]);
  });
});
