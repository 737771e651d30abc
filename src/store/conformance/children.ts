import { describe, expect, it } from 'vitest';
import type { Run } from '../../core/run.js';
import type { Store } from '../store.js';
import {
  MINUTE,
  at,
  claimParams,
  expectErrorCode,
  getRun,
  insertParams,
  insertRun,
  refOf,
  startRun,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** Insert `count` pending children (job `sms`) of `parent`, oldest first. */
async function insertChildren(store: Store, parent: Run, count: number): Promise<Run[]> {
  const children: Run[] = [];
  for (let i = 0; i < count; i++)
    children.push(await insertRun(store, { job: 'sms', parentId: parent.id, trigger: 'parent' }));
  return children;
}

/** Claim every pending child (job `sms`); they come back in id order. */
async function claimChildren(store: Store, now = at(1)): Promise<Map<string, Run>> {
  const claimed = await store.runClaim(
    claimParams({ now, limit: 100, jobs: [{ name: 'sms', concurrency: null }] }),
  );
  return new Map(claimed.map((run) => [run.id, run]));
}

/** End a claimed child's attempt as given. */
function endChild(
  store: Store,
  child: Run,
  status: 'completed' | 'failed' | 'partial',
  ms: number,
): Promise<Run> {
  const outcome =
    status === 'failed'
      ? { status, error: { code: 'HANDLER_ERROR', message: 'boom' } }
      : { status, result: { child: child.id } };
  return store.runFinishIfAttempt({ ref: refOf(child), now: at(ms), outcome });
}

/** The parent's attempt ends waiting for `children`. */
function waitFor(store: Store, parent: Run, children: Run[], ms = 2): Promise<Run> {
  return store.runFinishIfAttempt({
    ref: refOf(parent),
    now: at(ms),
    outcome: { status: 'waiting', children: children.map((c) => c.id) },
  });
}

const feedOf = async (store: Store, runId: string): Promise<string[]> =>
  (await store.eventList({ afterSeq: 0, limit: 1000 })).events
    .filter((e) => e.runId === runId && e.name !== 'run.log' && e.name !== 'run.step')
    .map((e) => `${e.name}:${e.status ?? '-'}`);

/**
 * Child runs: a parent's wait holds no worker, its awaited children's ends make it due again
 * (all of them, or the first that does not complete), and nothing else does.
 */
export function describeChildren(ctx: ConformanceContext): void {
  describe('child runs', () => {
    const store = useStore(ctx.makeStore);

    it('runList and runCount filter by parentId, newest first', async () => {
      const parent = await startRun(store());
      const other = await insertRun(store(), { job: 'sms' });
      const children = await insertChildren(store(), parent, 3);
      const page = await store().runList({ parentId: parent.id, limit: 2 });
      expect(page.runs.map((r) => r.id)).toEqual([children[2]!.id, children[1]!.id]);
      expect(page.runs[0]).toMatchObject({ parentId: parent.id, trigger: 'parent' });
      const rest = await store().runList({
        parentId: parent.id,
        limit: 2,
        cursor: page.nextCursor,
      });
      expect(rest.runs.map((r) => r.id)).toEqual([children[0]!.id]);
      expect(await store().runCount({ parentId: parent.id, limit: 100 })).toBe(3);
      expect(await store().runCount({ parentId: parent.id, job: 'email', limit: 100 })).toBe(0);
      expect((await getRun(store(), other.id)).parentId).toBeNull();
    });

    it('a wait for unfinished children: waiting, holding no worker, no lease and no try', async () => {
      const parent = await startRun(store());
      const children = await insertChildren(store(), parent, 2);
      const waiting = await waitFor(store(), parent, children);
      expect(waiting).toMatchObject({
        status: 'waiting',
        workerId: null,
        leaseExpiresAt: null,
        attempt: 1,
        maxAttempts: parent.maxAttempts + 1,
      });
      expect(waiting.attempts).toEqual([
        expect.objectContaining({ attempt: 1, workerId: 'worker-a', outcome: 'waiting' }),
      ]);
      expect(await store().runClaim(claimParams({ now: at(MINUTE) }))).toEqual([]);
      expect(await store().runCountUnfinished()).toEqual({ waiting: 1, pending: 2 });
      expect(await feedOf(store(), parent.id)).toEqual([
        'run.created:pending',
        'run.started:running',
        'run.waiting:waiting',
      ]);
    });

    it('the parent is due again only when the last awaited child ends, at that time', async () => {
      const parent = await startRun(store());
      const children = await insertChildren(store(), parent, 3);
      await waitFor(store(), parent, children);
      const claimed = await claimChildren(store());
      await endChild(store(), claimed.get(children[0]!.id)!, 'completed', 10);
      await endChild(store(), claimed.get(children[2]!.id)!, 'completed', 11);
      expect((await getRun(store(), parent.id)).status).toBe('waiting');
      await endChild(store(), claimed.get(children[1]!.id)!, 'completed', 12);
      const woken = await getRun(store(), parent.id);
      expect(woken).toMatchObject({ status: 'pending', runAt: at(12), workerId: null });
      expect((await feedOf(store(), parent.id)).slice(-1)).toEqual(['run.resumed:pending']);
      const [again] = await store().runClaim(claimParams({ now: at(13) }));
      expect(again).toMatchObject({ id: parent.id, attempt: 2, status: 'running' });
    });

    for (const ending of ['failed', 'partial'] as const) {
      it(`a child that ends ${ending} makes its waiting parent due at once`, async () => {
        const parent = await startRun(store());
        const children = await insertChildren(store(), parent, 3);
        await waitFor(store(), parent, children);
        const claimed = await claimChildren(store());
        await endChild(store(), claimed.get(children[1]!.id)!, ending, 10);
        expect(await getRun(store(), parent.id)).toMatchObject({
          status: 'pending',
          runAt: at(10),
        });
      });
    }

    it('a child cancelled before it started makes its waiting parent due at once', async () => {
      const parent = await startRun(store());
      const children = await insertChildren(store(), parent, 2);
      await waitFor(store(), parent, children);
      await store().runCancel({
        id: children[0]!.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'bob',
        now: at(10),
      });
      expect(await getRun(store(), parent.id)).toMatchObject({ status: 'pending' });
    });

    it('a wait for children that all ended already, or one that failed, is due at once', async () => {
      const parent = await startRun(store());
      const children = await insertChildren(store(), parent, 2);
      const claimed = await claimChildren(store());
      await endChild(store(), claimed.get(children[0]!.id)!, 'completed', 1);
      await endChild(store(), claimed.get(children[1]!.id)!, 'completed', 1);
      const due = await waitFor(store(), parent, children, 2);
      expect(due).toMatchObject({ status: 'pending', runAt: at(2), workerId: null });
      expect(due.attempts.map((a) => a.outcome)).toEqual(['waiting']);

      const second = await startRun(store(), { now: at(3), insert: { job: 'report' } });
      const [done, failing] = await insertChildren(store(), second, 2);
      const ofSecond = await claimChildren(store(), at(3));
      await endChild(store(), ofSecond.get(failing!.id)!, 'failed', 4);
      // One listed child is still running, but another already failed: its waitFor throws now.
      expect((await waitFor(store(), second, [done!, failing!], 5)).status).toBe('pending');
    });

    it('only the children listed in the latest wait count', async () => {
      const parent = await startRun(store());
      const [first, second] = await insertChildren(store(), parent, 2);
      await waitFor(store(), parent, [first!]);
      const claimed = await claimChildren(store());
      await endChild(store(), claimed.get(first!.id)!, 'completed', 10);
      const [again] = await store().runClaim(claimParams({ now: at(11) }));
      expect(again!.id).toBe(parent.id);
      // The second wait lists only `second`: `first`'s earlier mark is cleared.
      expect((await waitFor(store(), again!, [second!], 12)).status).toBe('waiting');
      const unlisted = await insertRun(store(), {
        job: 'sms',
        parentId: parent.id,
        trigger: 'parent',
      });
      const more = await claimChildren(store(), at(13));
      await endChild(store(), more.get(unlisted.id)!, 'failed', 14);
      expect((await getRun(store(), parent.id)).status).toBe('waiting');
      await endChild(store(), claimed.get(second!.id)!, 'completed', 15);
      expect(await getRun(store(), parent.id)).toMatchObject({ status: 'pending', runAt: at(15) });
    });

    it('a waiting parent cancelled or paused is not woken by its children; resumed it is due', async () => {
      const cancelled = await startRun(store());
      const [ofCancelled] = await insertChildren(store(), cancelled, 1);
      await waitFor(store(), cancelled, [ofCancelled!]);
      await store().runCancel({
        id: cancelled.id,
        mode: 'force',
        reason: null,
        requestedBy: 'bob',
        now: at(5),
      });
      const paused = await startRun(store(), { now: at(6) });
      const [ofPaused] = await insertChildren(store(), paused, 1);
      await waitFor(store(), paused, [ofPaused!], 7);
      await store().runPause({ id: paused.id, requestedBy: 'dave', now: at(8) });
      const claimed = await claimChildren(store(), at(9));
      await endChild(store(), claimed.get(ofCancelled!.id)!, 'completed', 10);
      await endChild(store(), claimed.get(ofPaused!.id)!, 'completed', 10);
      expect((await getRun(store(), cancelled.id)).status).toBe('cancelled');
      expect((await getRun(store(), paused.id)).status).toBe('paused');
      expect((await store().runResume({ id: paused.id, now: at(11) })).status).toBe('pending');
    });

    it('a wait is fenced; asked to stop, it ends cancelled; asked to pause, it is paused', async () => {
      const parent = await startRun(store());
      const [child] = await insertChildren(store(), parent, 1);
      await expectErrorCode(
        store().runFinishIfAttempt({
          ref: { ...refOf(parent), attempt: 2 },
          now: at(2),
          outcome: { status: 'waiting', children: [child!.id] },
        }),
        'LEASE_LOST',
      );
      await store().runCancel({
        id: parent.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'bob',
        now: at(3),
      });
      expect((await waitFor(store(), parent, [child!], 4)).status).toBe('cancelled');

      const pausing = await startRun(store(), { now: at(5) });
      const [ofPausing] = await insertChildren(store(), pausing, 1);
      await store().runPause({ id: pausing.id, requestedBy: 'dave', now: at(6) });
      expect((await waitFor(store(), pausing, [ofPausing!], 7)).status).toBe('paused');
    });

    it('a run keeps when its first attempt started, across a wait and the next attempt, in the feed too', async () => {
      const parent = await startRun(store());
      expect(parent.firstStartedAt).toEqual(parent.startedAt);
      const [child] = await insertChildren(store(), parent, 1);
      expect((await getRun(store(), child!.id)).firstStartedAt).toBeNull();
      await waitFor(store(), parent, [child!]);
      const claimed = await claimChildren(store());
      await endChild(store(), claimed.get(child!.id)!, 'completed', 10);
      const [again] = await store().runClaim(claimParams({ now: at(MINUTE) }));
      expect(again).toMatchObject({ id: parent.id, attempt: 2, startedAt: at(MINUTE) });
      expect(again!.firstStartedAt).toEqual(parent.startedAt);
      expect((await getRun(store(), parent.id)).firstStartedAt).toEqual(parent.startedAt);
      const events = (await store().eventList({ afterSeq: 0, limit: 1000 })).events.filter(
        (e) => e.runId === parent.id && 'run' in e,
      );
      expect(events.length).toBeGreaterThan(0);
      for (const event of events)
        expect('run' in event && event.run?.firstStartedAt, event.name).toEqual(parent.startedAt);
    });

    it('a waiting run blocks an exclusive create of its job, as a paused one does', async () => {
      const parent = await startRun(store());
      const [child] = await insertChildren(store(), parent, 1);
      await waitFor(store(), parent, [child!]);
      await expectErrorCode(
        store().runInsert(insertParams({ exclusive: true, now: at(3) })),
        'ALREADY_RUNNING',
      );
    });

    it('lists the unfinished children of runs asked to cancel, or failed, that no cascade reached, with the mode to cancel them in', async () => {
      const cancel = (run: Run, mode: 'graceful' | 'force', ms: number) =>
        store().runCancel({ id: run.id, mode, reason: null, requestedBy: 'carol', now: at(ms) });
      // Parents: running ones stopped by force and gracefully, a pending one, one left alone.
      const forced = await startRun(store());
      const slowing = await startRun(store());
      const broken = await startRun(store());
      const stopped = await insertRun(store(), { job: 'email' });
      const alone = await insertRun(store(), { job: 'email' });
      const [pendingChild, endedChild] = await insertChildren(store(), stopped, 2);
      const [running, gracefulOnly] = await insertChildren(store(), forced, 2);
      const [reached, unreached] = await insertChildren(store(), slowing, 2);
      const [ofBroken] = await insertChildren(store(), broken, 1);
      await insertChildren(store(), alone, 1);
      const claimed = await claimChildren(store());
      await endChild(store(), claimed.get(endedChild!.id)!, 'completed', 3);
      expect(await store().runListUncancelledChildren({ limit: 100 })).toEqual([]);

      expect((await cancel(stopped, 'graceful', 4)).run.status).toBe('cancelled');
      expect((await cancel(forced, 'force', 5)).run.status).toBe('cancelled');
      expect((await cancel(slowing, 'graceful', 5)).run.status).toBe('cancelling');
      const failed = await store().runFinishIfAttempt({
        ref: refOf(broken),
        now: at(5),
        outcome: { status: 'failed', error: { code: 'HANDLER_ERROR', message: 'boom' } },
      });
      expect(failed.status).toBe('failed');
      // Reached gracefully: under a forced parent still listed, to be forced; else not.
      await cancel(gracefulOnly!, 'graceful', 6);
      await cancel(reached!, 'graceful', 6);
      const listed = await store().runListUncancelledChildren({ limit: 100 });
      const child = (id: string, parent: Run, mode: string, parentStatus = 'cancelled') => ({
        id,
        parentId: parent.id,
        parentStatus,
        mode,
        requestedBy: parent === broken ? 'system' : 'carol',
      });
      expect(listed).toEqual(
        [
          child(pendingChild!.id, stopped, 'graceful'),
          child(running!.id, forced, 'force'),
          child(gracefulOnly!.id, forced, 'force'),
          child(unreached!.id, slowing, 'graceful', 'cancelling'),
          // A failed parent's children are cancelled gracefully, by the system.
          child(ofBroken!.id, broken, 'graceful', 'failed'),
        ].sort((a, b) => (a.id < b.id ? -1 : 1)),
      );
      expect(await store().runListUncancelledChildren({ limit: 1 })).toEqual([listed[0]]);

      // Reached in the parent's mode: no longer listed.
      await cancel(pendingChild!, 'graceful', 7);
      await cancel(running!, 'force', 8);
      await cancel(gracefulOnly!, 'force', 9);
      await cancel(unreached!, 'graceful', 9);
      await cancel(ofBroken!, 'graceful', 9);
      expect(await store().runListUncancelledChildren({ limit: 100 })).toEqual([]);
    });

    if (ctx.makeStorePair) {
      const pair = useStorePair(ctx.makeStorePair);
      it('children ending at once on two instances wake the parent exactly once', async () => {
        const [a, b] = pair();
        const parent = await startRun(a);
        const children = await insertChildren(a, parent, 8);
        await waitFor(a, parent, children);
        const claimed = [...(await claimChildren(a)).values()];
        await Promise.all(
          claimed.map((child, i) => endChild(i % 2 === 0 ? a : b, child, 'completed', 10)),
        );
        expect(await getRun(b, parent.id)).toMatchObject({ status: 'pending', runAt: at(10) });
        expect(
          (await feedOf(a, parent.id)).filter((e) => e === 'run.resumed:pending'),
        ).toHaveLength(1);
      });

      it('a child ending while its parent stores its wait is never missed', async () => {
        const [a, b] = pair();
        for (let round = 0; round < 10; round++) {
          const parent = await startRun(a, {
            now: at(round * 100),
            insert: { job: `report-${round}` },
          });
          const [child] = await insertChildren(a, parent, 1);
          const claimed = await claimChildren(a, at(round * 100));
          const [waited] = await Promise.all([
            waitFor(a, parent, [child!], round * 100 + 1),
            endChild(b, claimed.get(child!.id)!, 'completed', round * 100 + 1),
          ]);
          // Whichever came first, the parent is due once its only child has ended.
          const now = await getRun(a, parent.id);
          expect([waited.status, now.status]).toContain('pending');
          expect(now.status).toBe('pending');
        }
      });
    }
  });
}
