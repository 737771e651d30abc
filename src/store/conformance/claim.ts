import { describe, expect, it } from 'vitest';
import type { Run } from '../../core/run.js';
import {
  LEASE_MS,
  MINUTE,
  at,
  claimParams,
  forceCancel,
  getRun,
  insertRun,
  refOf,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** runClaim: order, limits, per-job concurrency, disabled jobs, and concurrent claimers. */
export function describeClaim(ctx: ConformanceContext): void {
  describe('runClaim', () => {
    const store = useStore(ctx.makeStore);

    it('claims a pending run: running, attempt 1, worker, lease and startedAt set', async () => {
      const run = await insertRun(store());
      const claimed = await store().runClaim(claimParams({ workerId: 'w1', now: at(7) }));
      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({
        id: run.id,
        status: 'running',
        attempt: 1,
        workerId: 'w1',
        leaseExpiresAt: at(7 + LEASE_MS),
        startedAt: at(7),
      });
      const stored = await store().runGet({ id: run.id });
      expect(stored).toMatchObject({ status: 'running', attempt: 1, workerId: 'w1' });
      expect(await store().runClaim(claimParams({ workerId: 'w2', now: at(8) }))).toEqual([]);
    });

    it('claims higher priority first', async () => {
      const low = await insertRun(store(), { priority: 0 });
      const high = await insertRun(store(), { priority: 10 });
      const mid = await insertRun(store(), { priority: 5 });
      const order: string[] = [];
      for (let i = 0; i < 3; i++) {
        const claimed = await store().runClaim(claimParams({ limit: 1 }));
        order.push(...claimed.map((r) => r.id));
      }
      expect(order).toEqual([high.id, mid.id, low.id]);
    });

    it('claims the earlier runAt first at equal priority', async () => {
      const later = await insertRun(store(), { runAt: at(-1 * MINUTE) });
      const earliest = await insertRun(store(), { runAt: at(-3 * MINUTE) });
      const middle = await insertRun(store(), { runAt: at(-2 * MINUTE) });
      const first = await store().runClaim(claimParams({ limit: 1 }));
      const rest = await store().runClaim(claimParams({ limit: 2 }));
      expect([...first, ...rest].map((r) => r.id)).toEqual([earliest.id, middle.id, later.id]);
    });

    it('does not claim a run before its runAt; claims it once now reaches runAt', async () => {
      const delayed = await insertRun(store(), { runAt: at(MINUTE), priority: 100 });
      const ready = await insertRun(store(), { priority: 0 });
      const early = await store().runClaim(claimParams({ now: at(MINUTE - 1) }));
      expect(early.map((r) => r.id)).toEqual([ready.id]);
      expect(await store().runClaim(claimParams({ now: at(MINUTE - 1) }))).toEqual([]);
      const due = await store().runClaim(claimParams({ now: at(MINUTE) }));
      expect(due.map((r) => r.id)).toEqual([delayed.id]);
      expect(due[0]!.attempt).toBe(1);
    });

    it('honours limit and gives each run to one worker only', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) ids.add((await insertRun(store())).id);
      const a = await store().runClaim(claimParams({ workerId: 'w1', limit: 2 }));
      const b = await store().runClaim(claimParams({ workerId: 'w2', limit: 2 }));
      const c = await store().runClaim(claimParams({ workerId: 'w3', limit: 2 }));
      const d = await store().runClaim(claimParams({ workerId: 'w4', limit: 2 }));
      expect([a.length, b.length, c.length, d.length]).toEqual([2, 2, 1, 0]);
      const claimed = [...a, ...b, ...c].map((r) => r.id);
      expect(new Set(claimed)).toEqual(ids);
      for (const run of a) expect(run.workerId).toBe('w1');
      for (const run of c) expect(run.workerId).toBe('w3');
    });

    it('runs claimed ahead of their start end one by one: handed back without a try, cancelled, completed', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await insertRun(store(), { maxAttempts: 1 })).id);
      const claimed = await store().runClaim(claimParams({ limit: 4, now: at(1) }));
      expect(claimed.map((r) => r.id).sort()).toEqual([...ids].sort());
      const [back, graceful, forced, done] = claimed as [Run, Run, Run, Run];
      // Handed back (a shutdown, or no slot within its lease): pending, the try not used.
      const handedBack = await store().runFinishIfAttempt({
        ref: refOf(back),
        now: at(2),
        outcome: { status: 'pending' },
      });
      expect(handedBack).toMatchObject({ status: 'pending', workerId: null, maxAttempts: 2 });
      expect(handedBack.attempts.map((a) => a.outcome)).toEqual(['released']);
      // A graceful cancel of a run whose handler never started: the worker ends it cancelled.
      await store().runCancel({
        id: graceful.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'bob',
        now: at(3),
      });
      const ended = await store().runFinishIfAttempt({
        ref: refOf(graceful),
        now: at(4),
        outcome: { status: 'cancelled' },
      });
      expect(ended).toMatchObject({ status: 'cancelled', leaseExpiresAt: null });
      // A force cancel ends it in the store; the worker gives its lease back.
      expect((await forceCancel(store(), forced.id, at(5))).status).toBe('cancelled');
      await store().leaseRelease({ ref: refOf(forced) });
      expect((await getRun(store(), forced.id)).leaseExpiresAt).toBeNull();
      const [completed] = await store().runCompleteMany({
        now: at(6),
        runs: [{ ref: refOf(done), result: 'ok' }],
      });
      expect(completed).toMatchObject({ status: 'completed', result: 'ok' });
      // The handed-back run is claimed again with its next attempt, within its tries.
      const again = await store().runClaim(claimParams({ workerId: 'w2', now: at(7) }));
      expect(again).toMatchObject([{ id: back.id, attempt: 2, maxAttempts: 2, workerId: 'w2' }]);
    });

    it('claims only runs of the jobs the worker lists', async () => {
      const email = await insertRun(store(), { job: 'email' });
      const sms = await insertRun(store(), { job: 'sms', priority: 50 });
      const claimed = await store().runClaim(
        claimParams({ jobs: [{ name: 'email', concurrency: null }] }),
      );
      expect(claimed.map((r) => r.id)).toEqual([email.id]);
      expect((await store().runGet({ id: sms.id }))?.status).toBe('pending');
      expect(await store().runClaim(claimParams({ jobs: [] }))).toEqual([]);
    });

    it('per-job concurrency caps the active runs of the job across workers', async () => {
      for (let i = 0; i < 5; i++) await insertRun(store());
      const capped = [{ name: 'email', concurrency: 2 }];
      const a = await store().runClaim(claimParams({ workerId: 'w1', jobs: capped }));
      expect(a).toHaveLength(2);
      expect(await store().runClaim(claimParams({ workerId: 'w2', jobs: capped }))).toEqual([]);
      await store().runFinishIfAttempt({
        ref: refOf(a[0]!),
        now: at(10),
        outcome: { status: 'completed', result: null },
      });
      const b = await store().runClaim(claimParams({ workerId: 'w2', jobs: capped, now: at(11) }));
      expect(b).toHaveLength(1);
      expect(await store().runClaim(claimParams({ workerId: 'w3', jobs: capped }))).toEqual([]);
      const { runs } = await store().runList({ status: ['running'], limit: 100 });
      expect(runs).toHaveLength(2);
    });

    it('a cancelling run still counts against the concurrency cap', async () => {
      await insertRun(store());
      await insertRun(store());
      const capped = [{ name: 'email', concurrency: 1 }];
      const [first] = await store().runClaim(claimParams({ jobs: capped }));
      await store().runCancel({
        id: first!.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      expect(await store().runClaim(claimParams({ jobs: capped, now: at(2) }))).toEqual([]);
    });

    it('a force-cancelled run keeps its cap slot until its attempt releases the lease', async () => {
      await insertRun(store());
      const waiting = await insertRun(store());
      const capped = [{ name: 'email', concurrency: 1 }];
      const [first] = await store().runClaim(claimParams({ jobs: capped }));
      const cancelled = await forceCancel(store(), first!.id, at(1));
      // The user sees the run cancelled at once; its handler may still be stopping.
      expect(cancelled.status).toBe('cancelled');
      expect(await store().runClaim(claimParams({ jobs: capped, now: at(2) }))).toEqual([]);
      await store().leaseRelease({ ref: refOf(first!) });
      expect((await getRun(store(), first!.id)).leaseExpiresAt).toBeNull();
      const next = await store().runClaim(claimParams({ jobs: capped, now: at(4) }));
      expect(next.map((r) => r.id)).toEqual([waiting.id]);
    });

    it('the slot of a force-cancelled run frees itself when its lease expires', async () => {
      await insertRun(store());
      const waiting = await insertRun(store());
      const capped = [{ name: 'email', concurrency: 1 }];
      const [first] = await store().runClaim(claimParams({ jobs: capped }));
      await forceCancel(store(), first!.id, at(1));
      expect(await store().runClaim(claimParams({ jobs: capped, now: at(LEASE_MS) }))).toEqual([]);
      const next = await store().runClaim(claimParams({ jobs: capped, now: at(LEASE_MS + 1) }));
      expect(next.map((r) => r.id)).toEqual([waiting.id]);
    });

    it('runs that ended by their own write hold no slot and no lease', async () => {
      for (let i = 0; i < 3; i++) await insertRun(store());
      const capped = [{ name: 'email', concurrency: 1 }];
      const [first] = await store().runClaim(claimParams({ jobs: capped }));
      const done = await store().runFinishIfAttempt({
        ref: refOf(first!),
        now: at(1),
        outcome: { status: 'cancelled' },
      });
      expect(done.leaseExpiresAt).toBeNull();
      const [second] = await store().runClaim(claimParams({ jobs: capped, now: at(2) }));
      const [completed] = await store().runCompleteMany({
        now: at(3),
        runs: [{ ref: refOf(second!), result: null }],
      });
      expect(completed!.leaseExpiresAt).toBeNull();
      expect(await store().runClaim(claimParams({ jobs: capped, now: at(4) }))).toHaveLength(1);
    });

    it('a job at its cap does not stop the claim of other jobs', async () => {
      for (let i = 0; i < 3; i++) await insertRun(store(), { job: 'email', priority: 10 });
      const sms1 = await insertRun(store(), { job: 'sms', priority: 0 });
      const sms2 = await insertRun(store(), { job: 'sms', priority: 0 });
      const claimed = await store().runClaim(
        claimParams({
          limit: 3,
          jobs: [
            { name: 'email', concurrency: 1 },
            { name: 'sms', concurrency: null },
          ],
        }),
      );
      expect(claimed).toHaveLength(3);
      expect(claimed.filter((r) => r.job === 'email')).toHaveLength(1);
      expect(new Set(claimed.filter((r) => r.job === 'sms').map((r) => r.id))).toEqual(
        new Set([sms1.id, sms2.id]),
      );
    });

    it('a rate limit allows at most max claims of the job in any window of perMs, finished runs included', async () => {
      for (let i = 0; i < 6; i++) await insertRun(store());
      const jobs = [{ name: 'email', concurrency: null, rateLimit: { max: 2, perMs: 1000 } }];
      const first = await store().runClaim(claimParams({ jobs, now: at(0) }));
      expect(first).toHaveLength(2);
      for (const run of first) {
        await store().runFinishIfAttempt({
          ref: refOf(run),
          now: at(10),
          outcome: { status: 'completed', result: null },
        });
      }
      expect(await store().runClaim(claimParams({ jobs, now: at(500) }))).toEqual([]);
      // A window includes both its ends: claims exactly perMs apart are in one window.
      expect(await store().runClaim(claimParams({ jobs, now: at(1000) }))).toEqual([]);
      const second = await store().runClaim(claimParams({ jobs, now: at(1001), limit: 1 }));
      expect(second).toHaveLength(1);
      const third = await store().runClaim(claimParams({ jobs, now: at(1500) }));
      expect(third).toHaveLength(1);
      // Claimed at 1001 and 1500: the next may come once 1001 has left the window.
      expect(await store().runClaim(claimParams({ jobs, now: at(2001) }))).toEqual([]);
      expect(await store().runClaim(claimParams({ jobs, now: at(2002) }))).toHaveLength(1);
      expect(await store().runClaim(claimParams({ jobs, now: at(2501) }))).toHaveLength(1);
      const { runs } = await store().runList({ status: ['pending'], limit: 100 });
      expect(runs).toHaveLength(0);
    });

    it('a rate-limited job does not hold back other jobs; a per-claim limit caps one job', async () => {
      for (let i = 0; i < 3; i++) await insertRun(store(), { job: 'email', priority: 10 });
      for (let i = 0; i < 3; i++) await insertRun(store(), { job: 'sms' });
      const claimed = await store().runClaim(
        claimParams({
          limit: 10,
          jobs: [
            { name: 'email', concurrency: null, rateLimit: { max: 1, perMs: 60_000 } },
            { name: 'sms', concurrency: null, limit: 2 },
          ],
        }),
      );
      expect(claimed.filter((r) => r.job === 'email')).toHaveLength(1);
      expect(claimed.filter((r) => r.job === 'sms')).toHaveLength(2);
    });

    it('does not claim runs of a disabled job; claims them again once enabled', async () => {
      const email = await insertRun(store(), { job: 'email', priority: 10 });
      const sms = await insertRun(store(), { job: 'sms' });
      const jobs = [
        { name: 'email', concurrency: null },
        { name: 'sms', concurrency: null },
      ];
      await store().jobStateSet({ name: 'email', enabled: false, now: at(0) });
      const claimed = await store().runClaim(claimParams({ jobs }));
      expect(claimed.map((r) => r.id)).toEqual([sms.id]);
      expect(await store().runClaim(claimParams({ jobs }))).toEqual([]);
      expect((await store().runGet({ id: email.id }))?.status).toBe('pending');
      await store().jobStateSet({ name: 'email', enabled: true, now: at(1) });
      const later = await store().runClaim(claimParams({ jobs, now: at(2) }));
      expect(later.map((r) => r.id)).toEqual([email.id]);
    });
  });

  const makeStorePair = ctx.makeStorePair;
  if (makeStorePair) {
    describe('runClaim across two store instances', () => {
      const stores = useStorePair(makeStorePair);

      it('two instances claiming at once never claim the same run', async () => {
        const [one, two] = stores();
        const ids = new Set<string>();
        for (let i = 0; i < 40; i++) ids.add((await insertRun(i % 2 ? one : two)).id);
        const batches = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? one : two).runClaim(claimParams({ workerId: `w${i}`, limit: 5 })),
          ),
        );
        const claimed = batches.flat().map((r) => r.id);
        expect(claimed).toHaveLength(40);
        expect(new Set(claimed)).toEqual(ids);
      });

      it('a rate limit holds across instances claiming at once', async () => {
        const [one, two] = stores();
        for (let i = 0; i < 10; i++) await insertRun(one);
        const jobs = [{ name: 'email', concurrency: null, rateLimit: { max: 3, perMs: 60_000 } }];
        const batches = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? one : two).runClaim(claimParams({ workerId: `w${i}`, jobs })),
          ),
        );
        expect(batches.flat()).toHaveLength(3);
        const { runs } = await two.runList({ status: ['running'], limit: 100 });
        expect(runs).toHaveLength(3);
      });

      it('the per-job concurrency cap holds across instances', async () => {
        const [one, two] = stores();
        for (let i = 0; i < 10; i++) await insertRun(one);
        const jobs = [{ name: 'email', concurrency: 3 }];
        const batches = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? one : two).runClaim(claimParams({ workerId: `w${i}`, jobs })),
          ),
        );
        expect(batches.flat()).toHaveLength(3);
        const { runs } = await two.runList({ status: ['running'], limit: 100 });
        expect(runs).toHaveLength(3);
      });
    });
  }
}
