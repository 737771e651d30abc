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
  type RuntimeConformanceContext,
} from './fixture.js';

/** Stopping an instance: what its grace lets finish, and what it releases. */
export function describeShutdown(ctx: RuntimeConformanceContext): void {
  describe('shutdown grace', () => {
    const instances = useInstances(ctx.makeDatabase);

    it('releases unfinished runs for another try instead of leaving them running', async () => {
      const started = deferred();
      const job = defineJob({
        name: 'long',
        maxAttempts: 1,
        async run(ctx) {
          started.resolve();
          await delay(60_000, undefined, { signal: ctx.signal });
        },
      });
      const deck = await instances().open([job]);
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
