import { describe, expect, it } from 'vitest';
import { storeTime } from '../../src/core/clock.js';
import { defineJob, type JobDefinition } from '../../src/jobs/define.js';
import { cappedSpinThreadJob } from '../fixtures/capped-jobs.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { deferred } from '../helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { FAST_WORKER, operator, useInstances, type RuntimeConformanceContext } from './fixture.js';

/** Far longer than any test: a slot that waited for its lease to expire would never free in time. */
const LEASE_MS = 10 * 60_000;

/**
 * A force cancel ends the run in the store at once, but its handler may still be stopping (up to
 * `forceGrace`). Until it has stopped, the run keeps its slot: a job with `concurrency: 1` (or
 * `allowConcurrent: false`) never has two handlers running.
 */
export function describeCaps(ctx: RuntimeConformanceContext): void {
  // Threads start slowly on a loaded machine: a test may wait long, it never fails for being slow.
  describe('caps under a force cancel', { timeout: 4 * EVENT_DEADLINE_MS }, () => {
    const instances = useInstances(ctx.makeDatabase);
    // Registered after the instances' clean-up, so these run first: a held handler may end then.
    const defer = cleanupAfterEach();
    const open = (jobs: JobDefinition[]) =>
      instances().open(jobs, { worker: { ...FAST_WORKER, leaseMs: LEASE_MS } });

    it('a job with concurrency 1 starts its next run only once the force-cancelled handler has stopped', async () => {
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
      const deck = await open([job]);
      defer(async () => letFirstEnd.resolve());
      const { run: first } = await deck.runs.create({
        job: job.name,
        input: { n: 1 },
        principal: operator,
      });
      await firstStarted.promise;
      const { run: cancelled } = await deck.cancels.cancel(first.id, { mode: 'force' }, operator);
      expect(cancelled.status).toBe('cancelled');
      const { run: second } = await deck.runs.create({
        job: job.name,
        input: { n: 2 },
        principal: operator,
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
      expect((await instances().waitForStatus(deck, second.id, 'completed', 'failed')).status).toBe(
        'completed',
      );
      expect(overlaps).toEqual([false]);
      expect(await deck.runs.get(first.id)).toMatchObject({
        status: 'cancelled',
        leaseExpiresAt: null,
      });
    });

    it('a thread that ignores a force cancel holds the slot until it is terminated', async () => {
      const deck = await open([cappedSpinThreadJob]);
      const job = cappedSpinThreadJob.name;
      const { run: first } = await deck.runs.create({
        job,
        input: { ms: 120_000 },
        principal: operator,
      });
      const logsOfFirst = async () => (await deck.runs.logs(first.id)).map((l) => l.message);
      await pollUntil(async () => (await logsOfFirst()).includes('spin started'), {
        timeoutMs: EVENT_DEADLINE_MS,
        what: 'the first thread to start',
      });
      // What the first run's logs said when the next run started.
      let atSecondStart: Promise<string[]> | undefined;
      const off = deck.events.on('run.started', ({ payload }) => {
        if (payload.run.id !== first.id) atSecondStart ??= logsOfFirst();
      });
      defer(async () => off());
      await deck.cancels.cancel(first.id, { mode: 'force' }, operator);
      const { run: second } = await deck.runs.create({
        job,
        input: { ms: 1 },
        principal: operator,
      });
      expect((await instances().waitForStatus(deck, second.id, 'completed', 'failed')).status).toBe(
        'completed',
      );
      expect(atSecondStart, 'the second run started').toBeDefined();
      expect(await atSecondStart).toContainEqual(
        expect.stringMatching(/^handler did not settle.*thread was terminated/),
      );
    });
  });
}
