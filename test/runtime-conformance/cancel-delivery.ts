import { describe, expect, it } from 'vitest';
import { isCancellation } from '../../src/core/cancellation.js';
import { defineJob } from '../../src/jobs/define.js';
import type { WorkerOptions } from '../../src/runtime/worker.js';
import { deferred } from '../helpers/deck.js';
import { pollUntil } from '../helpers/poll.js';
import {
  FAST_WORKER,
  QUIET_WORKER,
  aborted,
  admin,
  useInstances,
  stepUntilCancelled,
  untilStoppedJob,
  type RuntimeConformanceContext,
} from './fixture.js';

type WorkerLoops = Omit<WorkerOptions, 'store' | 'registry' | 'bus' | 'clock'>;

/** Claim → heartbeats → a cancel delivered by each path → the end the cancel asks for. */
export function describeCancelDelivery(ctx: RuntimeConformanceContext): void {
  describe('claim, heartbeat, cancel delivery, finish', () => {
    const instances = useInstances(ctx.makeDatabase);

    /** A handler that works in checkpointed steps until it is stopped. */
    function stepsJob(started: { resolve: () => void }) {
      return defineJob({
        name: 'steps',
        maxAttempts: 1,
        run(ctx) {
          started.resolve();
          return stepUntilCancelled(ctx);
        },
      });
    }

    it('renews the lease of a running handler and completes it', async () => {
      const started = deferred();
      const finish = deferred();
      const job = defineJob({
        name: 'working',
        async run() {
          started.resolve();
          await finish.promise;
          return 'done';
        },
      });
      const deck = await instances().open([job]);
      const { run } = await deck.runs.create({ job: 'working', principal: admin });
      await started.promise;
      const first = (await deck.runs.get(run.id)).leaseExpiresAt!.getTime();
      await pollUntil(
        async () => (await deck.runs.get(run.id)).leaseExpiresAt!.getTime() > first || undefined,
        { what: 'a lease renewal' },
      );
      finish.resolve();
      const done = await instances().waitForStatus(deck, run.id, 'completed', 'failed');
      expect(done).toMatchObject({ status: 'completed', attempt: 1, result: 'done' });
    });

    const paths: { path: string; worker: WorkerLoops; fromOtherInstance: boolean }[] = [
      // The instance that records the cancel pushes it on its own bus (and the store's, if any).
      { path: 'push', worker: QUIET_WORKER, fromOtherInstance: false },
      // From another instance: the cancel poll, or the store's push where it has one.
      { path: 'poll', worker: { ...QUIET_WORKER, cancelPollMs: 20 }, fromOtherInstance: true },
      {
        path: 'heartbeat',
        worker: { ...FAST_WORKER, cancelPollMs: 60_000, heartbeatMs: 50 },
        fromOtherInstance: true,
      },
    ];
    for (const { path, worker, fromOtherInstance } of paths) {
      it(`a graceful cancel reaches the handler by ${path} and ends the run cancelled`, async () => {
        const started = deferred();
        const workerDeck = await instances().open([stepsJob(started)], { worker });
        const canceller = fromOtherInstance
          ? await instances().open([stepsJob(deferred())], { worker: false })
          : workerDeck;
        const { run } = await canceller.runs.create({ job: 'steps', principal: admin });
        await started.promise;
        await canceller.cancels.cancel(run.id, { mode: 'graceful', reason: path }, admin);
        const done = await instances().waitForStatus(canceller, run.id, 'cancelled', 'failed');
        expect(done).toMatchObject({ status: 'cancelled', attempt: 1, cancel: { reason: path } });
        const log = await canceller.runs.logs(run.id);
        expect(log.find((l) => l.message === 'cancel delivered')?.data).toEqual({
          mode: 'graceful',
        });
      });
    }

    it('a force cancel from another instance aborts the handler signal with a cancel reason', async () => {
      const started = deferred<AbortSignal>();
      const job = untilStoppedJob('long', started);
      await instances().open([job]);
      const api = await instances().open([job], { worker: false });
      const { run } = await api.runs.create({ job: 'long', principal: admin });
      const signal = await started.promise;
      const { run: cancelled } = await api.cancels.cancel(run.id, { mode: 'force' }, admin);
      expect(cancelled.status).toBe('cancelled');
      await aborted(signal);
      expect(isCancellation(signal.reason) && signal.reason.kind).toBe('cancel');
      const delivered = await pollUntil(async () =>
        (await api.runs.logs(run.id)).find((l) => l.message === 'cancel delivered'),
      );
      expect(delivered.data).toEqual({ mode: 'force' });
    });
  });
}
