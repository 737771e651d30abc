/**
 * A force cancel ends the run in the store at once, but its handler may still be stopping (up to
 * `forceGrace`). Until it has stopped, the run keeps its slot: a job with `concurrency: 1` (or
 * `allowConcurrent: false`) never has two handlers running, on either backend.
 */
import { describe, expect, it } from 'vitest';
import { storeTime } from '../src/core/clock.js';
import type { Principal } from '../src/core/glossary.js';
import type { RunStatus } from '../src/core/status.js';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob, type JobDefinition } from '../src/jobs/define.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { cappedSpinThreadJob } from './fixtures/capped-jobs.js';
import { deferred } from './helpers/deck.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { tempDbPath } from './helpers/temp.js';

const reachable = await postgresReachable();
const alice: Principal = { name: 'alice', role: 'operator' };
/** Far longer than any test: a slot that waited for its lease to expire would never free in time. */
const LEASE_MS = 10 * 60_000;

const defer = cleanupAfterEach();

async function openDeck(backend: 'sqlite' | 'postgres', jobs: JobDefinition[]): Promise<Jobdeck> {
  let store: SqliteStore | PostgresStore;
  let dispose: () => Promise<void>;
  if (backend === 'sqlite') {
    const { path, cleanup } = tempDbPath();
    store = new SqliteStore({ path });
    dispose = async () => cleanup();
  } else {
    const pgStore = new PostgresStore({ connectionString: PG_URL, schema: freshSchema() });
    store = pgStore;
    dispose = () => pgStore.dropSchema();
  }
  const deck = new Jobdeck({
    store,
    jobs,
    worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: LEASE_MS },
    maintenance: { intervalMs: 50 },
    scheduler: false,
  });
  defer(async () => {
    await deck.stop({ graceMs: 1000 });
    await dispose();
    await store.close();
  });
  return deck.start();
}

async function waitForStatus(deck: Jobdeck, id: string, ...statuses: RunStatus[]) {
  return pollUntil(
    async () => {
      const run = await deck.runs.get(id);
      return statuses.includes(run.status) ? run : undefined;
    },
    { what: `run ${id} to be ${statuses.join('|')}`, timeoutMs: 30_000 },
  );
}

const backends = [
  ['sqlite', true],
  ['postgres', reachable],
] as const;

describe.each(backends)('caps under a force cancel (%s)', (backend, available) => {
  it.skipIf(!available)(
    'a job with concurrency 1 starts its next run only once the force-cancelled handler has stopped',
    async () => {
      const firstStarted = deferred();
      const letFirstEnd = deferred();
      let firstRunning = false;
      const overlaps: boolean[] = [];
      const job = defineJob({
        name: 'capped.inline',
        concurrency: 1,
        maxAttempts: 1,
        // Longer than the test: only the handler's own end frees the slot.
        forceGrace: '10m',
        async run(ctx, input: unknown) {
          if ((input as { n: number }).n === 1) {
            firstRunning = true;
            firstStarted.resolve();
            await letFirstEnd.promise; // ignores ctx.signal
            firstRunning = false;
            return;
          }
          overlaps.push(firstRunning);
        },
      });
      const deck = await openDeck(backend, [job]);
      // Registered after the deck's own clean-up, so it runs first: the handler may end then.
      defer(async () => letFirstEnd.resolve());
      const { run: first } = await deck.runs.create({
        job: job.name,
        input: { n: 1 },
        principal: alice,
      });
      await firstStarted.promise;
      const { run: cancelled } = await deck.cancels.cancel(first.id, { mode: 'force' }, alice);
      expect(cancelled.status).toBe('cancelled');
      const { run: second } = await deck.runs.create({
        job: job.name,
        input: { n: 2 },
        principal: alice,
      });
      // Any claimer, this instance's worker or another, finds the job at its cap.
      const probe = await deck.store.runClaim({
        workerId: 'probe',
        now: storeTime(deck.clock),
        leaseMs: LEASE_MS,
        limit: 1,
        jobs: [{ name: job.name, concurrency: 1 }],
      });
      expect(probe).toEqual([]);
      expect((await deck.runs.get(second.id)).status).toBe('pending');

      letFirstEnd.resolve();
      expect((await waitForStatus(deck, second.id, 'completed', 'failed')).status).toBe(
        'completed',
      );
      expect(overlaps).toEqual([false]);
      expect(await deck.runs.get(first.id)).toMatchObject({
        status: 'cancelled',
        leaseExpiresAt: null,
      });
    },
  );

  it.skipIf(!available)(
    'a thread that ignores a force cancel holds the slot until it is terminated',
    async () => {
      const deck = await openDeck(backend, [cappedSpinThreadJob]);
      const job = cappedSpinThreadJob.name;
      const { run: first } = await deck.runs.create({
        job,
        input: { ms: 120_000 },
        principal: alice,
      });
      const logsOfFirst = async () => (await deck.runs.logs(first.id)).map((l) => l.message);
      await pollUntil(async () => (await logsOfFirst()).includes('spin started'), {
        timeoutMs: 30_000,
        what: 'the first thread to start',
      });
      // What the first run's logs said when the next run started.
      let atSecondStart: Promise<string[]> | undefined;
      const off = deck.events.on('run.started', ({ payload }) => {
        if (payload.run.id !== first.id) atSecondStart ??= logsOfFirst();
      });
      defer(async () => off());
      await deck.cancels.cancel(first.id, { mode: 'force' }, alice);
      const { run: second } = await deck.runs.create({ job, input: { ms: 1 }, principal: alice });
      expect((await waitForStatus(deck, second.id, 'completed', 'failed')).status).toBe(
        'completed',
      );
      expect(atSecondStart, 'the second run started').toBeDefined();
      expect(await atSecondStart).toContainEqual(
        expect.stringMatching(/^handler did not settle.*thread was terminated/),
      );
    },
  );
});
