import { describe, expect, it } from 'vitest';
import {
  LEASE_MS,
  MINUTE,
  at,
  claimParams,
  expectErrorCode,
  forceCancel,
  getRun,
  insertRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

/** Lease renewal, the rescuer of expired leases, and the polling path of cancel delivery. */
export function describeLeases(ctx: ConformanceContext): void {
  describe('leases', () => {
    const store = useStore(ctx.makeStore);

    it('leaseRenew extends the lease of a held run and reports held:true', async () => {
      const run = await startRun(store());
      expect(run.leaseExpiresAt).toEqual(at(LEASE_MS));
      const renewals = await store().leaseRenew({
        workerId: 'worker-a',
        now: at(20_000),
        leaseMs: LEASE_MS,
        runs: [{ id: run.id, attempt: 1 }],
      });
      expect(renewals).toEqual([{ id: run.id, attempt: 1, held: true, cancel: null, pause: null }]);
      expect((await getRun(store(), run.id)).leaseExpiresAt).toEqual(at(20_000 + LEASE_MS));
      // Past the first lease but within the renewed one: not rescued.
      expect(await store().runRescueExpired({ now: at(LEASE_MS + 1) })).toEqual([]);
      expect((await getRun(store(), run.id)).status).toBe('running');
      const rescued = await store().runRescueExpired({ now: at(20_000 + LEASE_MS + 1) });
      expect(rescued.map((r) => r.id)).toEqual([run.id]);
    });

    it('leaseRenew reports held:false for another worker, an old attempt or an unknown run', async () => {
      const run = await startRun(store());
      const other = await insertRun(store());
      const renewals = await store().leaseRenew({
        workerId: 'worker-b',
        now: at(1000),
        leaseMs: LEASE_MS,
        runs: [{ id: run.id, attempt: 1 }],
      });
      expect(renewals).toEqual([
        { id: run.id, attempt: 1, held: false, cancel: null, pause: null },
      ]);
      const mixed = await store().leaseRenew({
        workerId: 'worker-a',
        now: at(1000),
        leaseMs: LEASE_MS,
        runs: [
          { id: run.id, attempt: 2 },
          { id: other.id, attempt: 1 },
          { id: run.id, attempt: 1 },
        ],
      });
      expect(mixed.map((r) => [r.id, r.attempt, r.held])).toEqual([
        [run.id, 2, false],
        [other.id, 1, false],
        [run.id, 1, true],
      ]);
      // Only the held one was extended (by the last renewal).
      expect((await getRun(store(), run.id)).leaseExpiresAt).toEqual(at(1000 + LEASE_MS));
      expect((await getRun(store(), other.id)).leaseExpiresAt).toBeNull();
    });

    it('leaseRenew tells the holder of a graceful cancel, still held', async () => {
      const run = await startRun(store());
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: 'enough',
        requestedBy: 'bob',
        now: at(5),
      });
      const [renewal] = await store().leaseRenew({
        workerId: 'worker-a',
        now: at(10),
        leaseMs: LEASE_MS,
        runs: [{ id: run.id, attempt: 1 }],
      });
      expect(renewal).toEqual({
        id: run.id,
        attempt: 1,
        held: true,
        cancel: { mode: 'graceful', reason: 'enough', requestedBy: 'bob', requestedAt: at(5) },
        pause: null,
      });
      expect((await getRun(store(), run.id)).leaseExpiresAt).toEqual(at(10 + LEASE_MS));
    });

    it('leaseRenew tells the attempt of a force cancel, no longer held, and keeps its lease while the handler stops', async () => {
      const run = await startRun(store());
      await forceCancel(store(), run.id, at(5));
      const [renewal] = await store().leaseRenew({
        workerId: 'worker-a',
        now: at(10),
        leaseMs: LEASE_MS,
        runs: [{ id: run.id, attempt: 1 }],
      });
      expect(renewal).toEqual({
        id: run.id,
        attempt: 1,
        held: false,
        cancel: { mode: 'force', reason: null, requestedBy: 'bob', requestedAt: at(5) },
        pause: null,
      });
      const [stranger] = await store().leaseRenew({
        workerId: 'worker-b',
        now: at(10),
        leaseMs: LEASE_MS,
        runs: [{ id: run.id, attempt: 1 }],
      });
      expect(stranger).toMatchObject({ held: false, cancel: null });
      expect(await getRun(store(), run.id)).toMatchObject({
        status: 'cancelled',
        leaseExpiresAt: at(10 + LEASE_MS),
      });
      // A stopping attempt is not rescued: its end is already stored.
      expect(await store().runRescueExpired({ now: at(11 + LEASE_MS) })).toEqual([]);
    });

    it('leaseRelease is fenced: only the attempt that held the run releases its lease', async () => {
      const run = await startRun(store());
      await forceCancel(store(), run.id, at(5));
      await expectErrorCode(
        store().leaseRelease({ ref: { ...refOf(run), workerId: 'worker-b' } }),
        'LEASE_LOST',
      );
      await expectErrorCode(
        store().leaseRelease({ ref: { ...refOf(run), attempt: 2 } }),
        'LEASE_LOST',
      );
      expect((await getRun(store(), run.id)).leaseExpiresAt).toEqual(at(LEASE_MS));
      await store().leaseRelease({ ref: refOf(run) });
      // Idempotent: a second report changes nothing.
      await store().leaseRelease({ ref: refOf(run) });
      expect(await getRun(store(), run.id)).toMatchObject({
        status: 'cancelled',
        workerId: 'worker-a',
        leaseExpiresAt: null,
      });
    });

    it('leaseRelease leaves the lease of a run its attempt still holds', async () => {
      const run = await startRun(store());
      await store().leaseRelease({ ref: refOf(run) });
      expect(await getRun(store(), run.id)).toMatchObject({
        status: 'running',
        leaseExpiresAt: at(LEASE_MS),
      });
    });

    it("with no time given, leases are set and compared on the store's own clock", async () => {
      const longAgo = new Date(Date.now() - 10 * MINUTE);
      const stale = await startRun(store(), { now: longAgo, insert: { runAt: longAgo } });
      const fresh = await insertRun(store(), { now: longAgo, runAt: longAgo });
      const [claimed] = await store().runClaim(claimParams({ now: null, limit: 1 }));
      expect(claimed!.id).toBe(fresh.id);
      // The store's clock is this machine's real time, give or take clock noise.
      expect(Math.abs(claimed!.leaseExpiresAt!.getTime() - (Date.now() + LEASE_MS))).toBeLessThan(
        MINUTE,
      );
      const rescued = await store().runRescueExpired({ now: null });
      expect(rescued.map((r) => r.id)).toEqual([stale.id]);
    });

    it('a pending run is claimed even when its runAt is ahead of the claimer (clocks differ)', async () => {
      const run = await insertRun(store(), { now: at(MINUTE), runAt: at(MINUTE) });
      expect(run.status).toBe('pending');
      const claimed = await store().runClaim(claimParams({ now: at(0) }));
      expect(claimed.map((r) => r.id)).toEqual([run.id]);
    });

    it('runRescueExpired leaves runs whose lease has not passed', async () => {
      const run = await startRun(store());
      await insertRun(store());
      expect(await store().runRescueExpired({ now: at(LEASE_MS - 1) })).toEqual([]);
      expect(await getRun(store(), run.id)).toMatchObject({
        status: 'running',
        workerId: 'worker-a',
        attempt: 1,
      });
    });

    it('an expired run with attempts left goes back to scheduled with WORKER_LOST', async () => {
      const run = await startRun(store(), { insert: { maxAttempts: 2 } });
      const now = at(LEASE_MS + 1);
      const rescued = await store().runRescueExpired({ now });
      expect(rescued).toHaveLength(1);
      expect(rescued[0]).toMatchObject({
        id: run.id,
        status: 'scheduled',
        attempt: 1,
        workerId: null,
        leaseExpiresAt: null,
        finishedAt: null,
        error: null,
        lastError: { code: 'WORKER_LOST' },
      });
      expect(await getRun(store(), run.id)).toEqual(rescued[0]);
      // Rescued once only.
      expect(await store().runRescueExpired({ now: at(LEASE_MS + 2) })).toEqual([]);
      const [again] = await store().runClaim(claimParams({ workerId: 'worker-b', now }));
      expect(again).toMatchObject({ id: run.id, attempt: 2, workerId: 'worker-b' });
    });

    it('an expired run with no attempts left ends failed with WORKER_LOST', async () => {
      const run = await startRun(store(), { insert: { maxAttempts: 1 } });
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'running' },
        ],
      });
      const now = at(LEASE_MS + 1);
      const rescued = await store().runRescueExpired({ now });
      expect(rescued).toHaveLength(1);
      expect(rescued[0]).toMatchObject({
        id: run.id,
        status: 'failed',
        finishedAt: now,
        error: { code: 'WORKER_LOST' },
        workerId: null,
        leaseExpiresAt: null,
      });
      const stored = await getRun(store(), run.id);
      expect(stored.status).toBe('failed');
      expect(stored.items).toEqual([
        { key: 'a', status: 'succeeded' },
        { key: 'b', status: 'cancelled' },
      ]);
      expect(await store().runClaim(claimParams({ now: at(MINUTE) }))).toEqual([]);
    });

    it('an expired cancelling run ends cancelled and is not retried', async () => {
      const run = await startRun(store(), { insert: { maxAttempts: 5 } });
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: 'stop',
        requestedBy: 'alice',
        now: at(1),
      });
      const now = at(LEASE_MS + 1);
      const rescued = await store().runRescueExpired({ now });
      expect(rescued).toHaveLength(1);
      expect(rescued[0]).toMatchObject({
        id: run.id,
        status: 'cancelled',
        finishedAt: now,
        cancel: { mode: 'graceful', reason: 'stop', requestedBy: 'alice', requestedAt: at(1) },
      });
      expect(await store().runClaim(claimParams({ now: at(MINUTE) }))).toEqual([]);
    });

    it('an expired cancelling run with succeeded items ends partial', async () => {
      const run = await startRun(store());
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'pending' },
        ],
      });
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      const [rescued] = await store().runRescueExpired({ now: at(LEASE_MS + 1) });
      expect(rescued).toMatchObject({ id: run.id, status: 'partial' });
      expect(rescued!.cancel).not.toBeNull();
      expect((await getRun(store(), run.id)).items).toEqual([
        { key: 'a', status: 'succeeded' },
        { key: 'b', status: 'cancelled' },
      ]);
    });

    it("runListCancelRequested lists only this worker's runs that were asked to stop", async () => {
      const asked = await startRun(store(), { workerId: 'worker-a' });
      const quiet = await startRun(store(), { workerId: 'worker-a' });
      const elsewhere = await startRun(store(), { workerId: 'worker-b' });
      for (const id of [asked.id, elsewhere.id]) {
        await store().runCancel({
          id,
          mode: 'graceful',
          reason: 'why',
          requestedBy: 'carol',
          now: at(3),
        });
      }
      const requests = await store().runListCancelRequested({
        workerId: 'worker-a',
        ids: [asked.id, quiet.id, elsewhere.id],
      });
      expect(requests).toEqual([
        {
          id: asked.id,
          attempt: 1,
          cancel: { mode: 'graceful', reason: 'why', requestedBy: 'carol', requestedAt: at(3) },
        },
      ]);
      expect(await store().runListCancelRequested({ workerId: 'worker-a', ids: [] })).toEqual([]);
    });
  });
}
