import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/core/clock.js';
import { defineJob } from '../../src/jobs/define.js';
import { deferred } from '../helpers/deck.js';
import { pollUntil } from '../helpers/poll.js';
import {
  aborted,
  admin,
  stepUntilCancelled,
  useInstances,
  type RuntimeConformanceContext,
} from './fixture.js';

const LEASE_MS = 1000;

/** A lost lease and the same worker claiming the rescued run again. */
export function describeLeaseLoss(ctx: RuntimeConformanceContext): void {
  describe('lease loss and self re-claim', () => {
    const instances = useInstances(ctx.makeDatabase);

    it('a worker that re-claims its own rescued run keeps renewing and cancelling the new attempt', async () => {
      // Time is the test's: a lease expires only when the test moves the clock past it.
      const clock = new TestClock(Date.now());
      const firstStarted = deferred();
      const releaseFirst = deferred();
      const secondStarted = deferred();
      const job = defineJob({
        name: 'stalls',
        maxAttempts: 3,
        async run(ctx) {
          if (ctx.run.attempt === 1) {
            // A stalled attempt: it ignores its signal and ends when the test lets it.
            firstStarted.resolve();
            await releaseFirst.promise;
            return 'first';
          }
          secondStarted.resolve();
          return stepUntilCancelled(ctx);
        },
      });
      const worker = await instances().open([job], {
        clock,
        maintenance: false,
        worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 50, leaseMs: LEASE_MS },
      });
      const api = await instances().open([job], { clock, maintenance: false, worker: false });
      const { run } = await api.runs.create({ job: 'stalls', principal: admin });
      await firstStarted.promise;

      // The first attempt's lease runs out (as in a stall) and the rescuer puts the run back.
      await pollUntil(
        async () => {
          clock.advance(LEASE_MS + 1);
          const rescued = await api.store.runRescueExpired({ now: clock.now() });
          return rescued.some((r) => r.id === run.id);
        },
        { what: 'the first attempt to be rescued' },
      );
      await secondStarted.promise;
      expect(worker.worker!.holds(run.id)).toBe(true);
      // The stalled first attempt ends now, while the second runs on the same worker.
      releaseFirst.resolve();

      // The second attempt's lease is renewed again and again: it is never rescued.
      for (let i = 0; i < 4; i++) {
        const from = clock.advance(LEASE_MS / 2).getTime();
        await pollUntil(
          async () => {
            const current = await api.runs.get(run.id);
            return current.leaseExpiresAt!.getTime() >= from + LEASE_MS ? current : undefined;
          },
          { what: `renewal ${i + 1} of the second attempt's lease` },
        );
      }
      expect(await api.store.runRescueExpired({ now: clock.now() })).toEqual([]);

      // A cancel asked from another instance reaches the second attempt.
      await api.cancels.cancel(run.id, { mode: 'graceful' }, admin);
      const done = await instances().waitForStatus(api, run.id, 'cancelled', 'failed');
      expect(done).toMatchObject({ status: 'cancelled', attempt: 2 });
    });

    // Renewals held up by a row lock: only where waiting on a lock leaves the event loop free.
    if (ctx.rowLocks) {
      it('a worker that cannot renew its lease stops the handler before the lease can run out; the run is retried', async () => {
        const firstSignal = deferred<AbortSignal>();
        const job = defineJob({
          name: 'renewal-blocked',
          maxAttempts: 2,
          async run(ctx) {
            if (ctx.run.attempt > 1) return 'second';
            firstSignal.resolve(ctx.signal);
            await aborted(ctx.signal);
            return 'first';
          },
        });
        const worker = await instances().open([job], {
          maintenance: false,
          worker: { pollMs: 20, cancelPollMs: 60_000, heartbeatMs: 100, leaseMs: LEASE_MS },
        });
        const { run } = await worker.runs.create({ job: 'renewal-blocked', principal: admin });
        const signal = await firstSignal.promise;

        // Its renewals wait on the row, as they would on a stalled or unreachable database.
        const lock = await instances().db.lockRun!(run.id);
        try {
          await aborted(signal);
          // Stopped while the row is still locked: no other attempt could have been claimed yet.
          expect(signal.reason).toEqual({ kind: 'lease-lost' });
          expect(await lock.waiting()).toBeGreaterThan(0);
        } finally {
          await lock.release();
        }
        // Once the lease has run out the rescuer gives the run its second attempt.
        await instances().open([job], { worker: false, maintenance: { intervalMs: 50 } });
        const done = await instances().waitForStatus(worker, run.id, 'completed', 'failed');
        expect(done).toMatchObject({ status: 'completed', attempt: 2, result: 'second' });
      });
    }
  });
}
