import { describe, expect, it } from 'vitest';
import type { Run } from '../../core/run.js';
import type { AttemptRef, Store } from '../store.js';
import {
  LEASE_MS,
  at,
  claimParams,
  expectErrorCode,
  getRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

const PROGRESS = { processed: 99, total: 100, percent: 99, message: 'zombie' };

/** Every write of `ref`, each expected to be refused with LEASE_LOST. */
async function expectAllWritesRefused(store: Store, ref: AttemptRef, now: Date): Promise<void> {
  await expectErrorCode(store.runProgressSet({ ref, progress: PROGRESS, now }), 'LEASE_LOST');
  await expectErrorCode(
    store.itemsUpsert({ ref, items: [{ key: 'zombie-item', status: 'succeeded' }] }),
    'LEASE_LOST',
  );
  await expectErrorCode(
    store.logAppend({
      runId: ref.id,
      ref,
      entries: [{ level: 'info', message: 'zombie log', time: now }],
      cap: 100,
    }),
    'LEASE_LOST',
  );
  for (const outcome of [
    { status: 'completed', result: 'zombie' },
    { status: 'failed', error: { code: 'HANDLER_ERROR', message: 'zombie' } },
    { status: 'cancelled' },
    { status: 'scheduled', runAt: now, error: { code: 'HANDLER_ERROR', message: 'zombie' } },
    { status: 'pending' },
  ] as const) {
    await expectErrorCode(store.runFinishIfAttempt({ ref, now, outcome }), 'LEASE_LOST');
  }
}

/** Fencing: a write of an attempt that no longer holds the run is refused and changes nothing. */
export function describeFencing(ctx: ConformanceContext): void {
  describe('fencing', () => {
    const store = useStore(ctx.makeStore);

    /** Start a run on worker-a, let its lease expire, rescue it, and claim it again. */
    async function rescueAndReclaim(workerId: string): Promise<{ first: Run; second: Run }> {
      const first = await startRun(store(), { workerId: 'worker-a' });
      await store().runProgressSet({
        ref: refOf(first),
        progress: { processed: 1, total: 10, percent: 10, message: 'attempt 1' },
        now: at(1),
      });
      const rescued = await store().runRescueExpired({ now: at(LEASE_MS + 1) });
      expect(rescued.map((r) => r.id)).toEqual([first.id]);
      const [second] = await store().runClaim(claimParams({ workerId, now: at(LEASE_MS + 2) }));
      expect(second).toMatchObject({ id: first.id, attempt: 2, workerId });
      return { first, second: second! };
    }

    it('after rescue and re-claim by another worker, every write of attempt 1 is LEASE_LOST', async () => {
      const { first, second } = await rescueAndReclaim('worker-b');
      await store().logAppend({
        runId: first.id,
        ref: refOf(second),
        entries: [{ level: 'info', message: 'attempt 2 started', time: at(LEASE_MS + 3) }],
        cap: 100,
      });
      const before = await getRun(store(), first.id);
      const logsBefore = await store().logList({ runId: first.id });

      await expectAllWritesRefused(store(), refOf(first), at(LEASE_MS + 4));

      expect(await getRun(store(), first.id)).toEqual(before);
      expect(await store().logList({ runId: first.id })).toEqual(logsBefore);
      expect(before.items).toEqual([]);
      expect(before.progress?.message).toBe('attempt 1');

      // The current attempt still writes.
      await store().runProgressSet({
        ref: refOf(second),
        progress: PROGRESS,
        now: at(LEASE_MS + 5),
      });
      const done = await store().runFinishIfAttempt({
        ref: refOf(second),
        now: at(LEASE_MS + 6),
        outcome: { status: 'completed', result: 'attempt 2' },
      });
      expect(done).toMatchObject({ status: 'completed', result: 'attempt 2', attempt: 2 });
    });

    it('after rescue and re-claim by the same worker, attempt 1 is still fenced off', async () => {
      const { first, second } = await rescueAndReclaim('worker-a');
      expect(second.workerId).toBe(first.workerId);
      const before = await getRun(store(), first.id);
      await expectAllWritesRefused(store(), refOf(first), at(LEASE_MS + 4));
      expect(await getRun(store(), first.id)).toEqual(before);
      expect(await store().logList({ runId: first.id })).toEqual([]);
    });

    it('after rescue and before any re-claim, writes of the lost attempt are LEASE_LOST', async () => {
      const run = await startRun(store());
      await store().runRescueExpired({ now: at(LEASE_MS + 1) });
      const before = await getRun(store(), run.id);
      expect(before.status).toBe('scheduled');
      await expectAllWritesRefused(store(), refOf(run), at(LEASE_MS + 2));
      expect(await getRun(store(), run.id)).toEqual(before);
      expect(await store().logList({ runId: run.id })).toEqual([]);
    });

    it('writes with another worker id are LEASE_LOST', async () => {
      const run = await startRun(store());
      const before = await getRun(store(), run.id);
      await expectAllWritesRefused(store(), { ...refOf(run), workerId: 'worker-x' }, at(5));
      await expectAllWritesRefused(store(), { ...refOf(run), attempt: 2 }, at(5));
      expect(await getRun(store(), run.id)).toEqual(before);
    });

    it('after a force cancel, progress, items and finish are LEASE_LOST but cleanup logs are accepted', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      await store().itemsUpsert({ ref, items: [{ key: 'a', status: 'succeeded' }] });
      const { run: cancelled } = await store().runCancel({
        id: run.id,
        mode: 'force',
        reason: 'now',
        requestedBy: 'alice',
        now: at(10),
      });
      expect(cancelled.status).toBe('partial');
      const before = await getRun(store(), run.id);

      await expectErrorCode(
        store().runProgressSet({ ref, progress: PROGRESS, now: at(11) }),
        'LEASE_LOST',
      );
      await expectErrorCode(
        store().itemsUpsert({ ref, items: [{ key: 'b', status: 'succeeded' }] }),
        'LEASE_LOST',
      );
      await expectErrorCode(
        store().runFinishIfAttempt({
          ref,
          now: at(11),
          outcome: { status: 'completed', result: 'too late' },
        }),
        'LEASE_LOST',
      );
      await expectErrorCode(
        store().runFinishIfAttempt({ ref, now: at(11), outcome: { status: 'cancelled' } }),
        'LEASE_LOST',
      );
      const logged = await store().logAppend({
        runId: run.id,
        ref,
        entries: [{ level: 'info', message: 'cleanup done', time: at(12) }],
        cap: 100,
      });
      expect(logged).toMatchObject([{ runId: run.id, seq: 1, message: 'cleanup done' }]);
      expect(await store().logList({ runId: run.id })).toMatchObject([
        { seq: 1, level: 'info', message: 'cleanup done', time: at(12) },
      ]);
      expect(await getRun(store(), run.id)).toEqual(before);
    });

    it('a graceful cancel leaves the attempt holding: its writes are accepted', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(10),
      });
      await store().runProgressSet({ ref, progress: PROGRESS, now: at(11) });
      await store().itemsUpsert({ ref, items: [{ key: 'a', status: 'succeeded' }] });
      await store().logAppend({
        runId: run.id,
        ref,
        entries: [{ level: 'info', message: 'stopping', time: at(12) }],
        cap: 100,
      });
      const stopped = await store().runFinishIfAttempt({
        ref,
        now: at(13),
        outcome: { status: 'cancelled', result: { kept: 1 } },
      });
      expect(stopped).toMatchObject({
        status: 'partial',
        progress: PROGRESS,
        items: [{ key: 'a', status: 'succeeded' }],
        result: { kept: 1 },
        finishedAt: at(13),
        cancel: { mode: 'graceful', requestedBy: 'alice' },
      });
      expect(await store().logList({ runId: run.id })).toHaveLength(1);
    });
  });
}
