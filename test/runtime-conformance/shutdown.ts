import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isCancellation } from '../../src/core/cancellation.js';
import { defineJob } from '../../src/jobs/define.js';
import { deferred } from '../helpers/deck.js';
import {
  QUIET_WORKER,
  aborted,
  admin,
  useInstances,
  untilStoppedJob,
  type RuntimeConformanceContext,
} from './fixture.js';

/**
 * Stopping an instance — what its grace lets finish, what it releases — and the rule behind it:
 * the handler settling or its stop, whichever the worker sees first, decides the attempt's end.
 */
export function describeShutdown(ctx: RuntimeConformanceContext): void {
  describe('shutdown grace and stops', () => {
    const instances = useInstances(ctx.makeDatabase);

    it('releases unfinished runs for another try instead of leaving them running', async () => {
      const started = deferred<AbortSignal>();
      const deck = await instances().open([untilStoppedJob('long', started)]);
      const { run } = await deck.runs.create({ job: 'long', principal: admin });
      await started.promise;
      await deck.stop({ graceMs: 50 });
      expect(await deck.runs.get(run.id)).toMatchObject({
        status: 'pending',
        workerId: null,
        attempt: 1,
        maxAttempts: 2,
      });
    });

    it('a timeout ends the attempt failed with TIMEOUT, even when the handler then returns', async () => {
      const timed = (name: string, run: (signal: AbortSignal) => Promise<unknown>) =>
        defineJob({ name, timeout: 100, maxAttempts: 1, run: (ctx) => run(ctx.signal) });
      const deck = await instances().open([
        timed('slow', (signal) => delay(60_000, undefined, { signal })),
        // Returns successfully, but only once stopped: the stop came first.
        timed('late', async (signal) => {
          await aborted(signal);
          return 'too late';
        }),
      ]);
      for (const job of ['slow', 'late']) {
        const { run } = await deck.runs.create({ job, principal: admin });
        const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
        expect(done).toMatchObject({
          status: 'failed',
          attempt: 1,
          result: null,
          error: { code: 'TIMEOUT' },
        });
      }
    });

    if (ctx.rowLocks) {
      it('a handler that returned before the grace ran out is completed, not released', async () => {
        const started = deferred<AbortSignal>();
        const finish = deferred();
        const job = defineJob({
          name: 'returns',
          maxAttempts: 1,
          async run(ctx) {
            started.resolve(ctx.signal);
            await finish.promise;
            ctx.log.info('last words');
            return 'done';
          },
        });
        const deck = await instances().open([job], { worker: QUIET_WORKER });
        const { run } = await deck.runs.create({ job: 'returns', principal: admin });
        const signal = await started.promise;
        // The attempt's last writes wait for the database, past the end of the grace.
        const lock = await instances().db.lockRun!(run.id);
        finish.resolve();
        const stopping = deck.stop({ graceMs: 50 });
        // The grace ran out while the result was being written: the worker aborts the attempt.
        await aborted(signal);
        expect(isCancellation(signal.reason) && signal.reason.kind).toBe('shutdown');
        await lock.release();
        await stopping;
        expect(await deck.runs.get(run.id)).toMatchObject({
          status: 'completed',
          attempt: 1,
          result: 'done',
        });
      });
    }
  });
}
