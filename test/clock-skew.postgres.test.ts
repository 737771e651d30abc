/**
 * PostgreSQL instances on many hosts compare leases with the database's clock, not their own: a
 * host whose clock stepped ahead (between two samples of its offset) must not rescue the healthy
 * runs of other hosts.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../src/core/clock.js';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { deferred } from './helpers/deck.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';

const reachable = await postgresReachable();
const admin = { name: 'root', role: 'admin' as const };

const defer = cleanupAfterEach();

/** A host clock that stepped `ms` ahead of the others (and of the database). */
function steppedClock(ms: number): Clock {
  return { now: () => new Date(Date.now() + ms) };
}

describe.skipIf(!reachable)('clock skew between hosts on PostgreSQL', () => {
  it("an instance whose clock stepped ahead does not rescue another instance's healthy run", async () => {
    const schema = freshSchema();
    const stopHandler = deferred();
    const started = deferred();
    let aborted = false;
    const job = defineJob({
      name: 'long',
      maxAttempts: 3,
      async run(ctx) {
        ctx.signal.addEventListener('abort', () => (aborted = true));
        started.resolve();
        await stopHandler.promise;
      },
    });
    const open = (options: ConstructorParameters<typeof Jobdeck>[0]) => {
      const deck = new Jobdeck(options);
      defer(async () => {
        stopHandler.resolve();
        await deck.close({ graceMs: 1000 });
      });
      return deck.start();
    };
    const store = () => new PostgresStore({ connectionString: PG_URL, schema, poolSize: 3 });
    const worker = await open({
      store: store(),
      jobs: [job],
      worker: { pollMs: 50, heartbeatMs: 500, leaseMs: 3000 },
      maintenance: false,
      scheduler: false,
    });
    const skewed = await open({
      store: store(),
      jobs: [job],
      clock: steppedClock(10_000),
      worker: false,
      scheduler: false,
      // Passes run only when the test asks.
      maintenance: { intervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
    });
    defer(async () => {
      const dropper = new PostgresStore({ connectionString: PG_URL, schema, notify: false });
      await dropper.dropSchema();
      await dropper.close();
    });

    const { run } = await skewed.runs.create({ job: 'long', principal: admin });
    await started.promise;
    for (let pass = 0; pass < 3; pass++) await skewed.maintenance!.runOnce();

    expect(await skewed.runs.get(run.id)).toMatchObject({
      status: 'running',
      attempt: 1,
      workerId: worker.worker!.id,
    });
    expect(aborted).toBe(false);
  });
});
