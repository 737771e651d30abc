import { describe, expect, it } from 'vitest';
import {
  INSTANCE_LOST_AFTER_BEATS,
  INSTANCE_REMOVED_AFTER_BEATS,
  type InstanceInfo,
} from '../../core/instance.js';
import {
  BASE,
  SECOND,
  at,
  insertRun,
  refOf,
  startRun,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** An instance registration with defaults: worker `worker-a` on `host-1`, beating every second. */
function instance(overrides: Partial<InstanceInfo> = {}): InstanceInfo {
  return {
    id: 'worker-a',
    host: 'host-1',
    pid: 4242,
    version: '1.2.3',
    role: 'worker',
    concurrency: 8,
    heartbeatMs: SECOND,
    startedAt: BASE,
    ...overrides,
  };
}

/** The instance registry: beats, lost and removed states by each instance's own heartbeat, held runs. */
export function describeInstances(ctx: ConformanceContext): void {
  describe('instances', () => {
    const store = useStore(ctx.makeStore);

    it('instanceList is empty in a fresh store', async () => {
      expect(await store().instanceList({ now: BASE })).toEqual([]);
    });

    it('instanceBeat registers an instance; a later beat moves its last-seen time', async () => {
      await store().instanceBeat({ instance: instance(), now: at(5) });
      expect(await store().instanceList({ now: at(5) })).toEqual([
        { ...instance(), lastSeenAt: at(5), state: 'alive', runs: [] },
      ]);
      await store().instanceBeat({ instance: instance(), now: at(900) });
      const [listed] = await store().instanceList({ now: at(900) });
      expect(listed).toMatchObject({ lastSeenAt: at(900), startedAt: BASE, state: 'alive' });
    });

    it('an API-only instance has no concurrency; a reused id takes the new process details', async () => {
      const api = instance({ id: 'api-1', role: 'api', concurrency: null, heartbeatMs: 5000 });
      await store().instanceBeat({ instance: api, now: at(0) });
      await store().instanceBeat({ instance: instance(), now: at(1) });
      const restarted = instance({ pid: 777, version: '1.2.4', startedAt: at(2), role: 'both' });
      await store().instanceBeat({ instance: restarted, now: at(3) });
      expect(await store().instanceList({ now: at(3) })).toEqual([
        { ...api, lastSeenAt: at(0), state: 'alive', runs: [] },
        { ...restarted, lastSeenAt: at(3), state: 'alive', runs: [] },
      ]);
    });

    it('an instance is lost past 3 of its own heartbeats and left out past 10', async () => {
      const fast = instance({ id: 'fast', heartbeatMs: SECOND });
      const slow = instance({ id: 'slow', heartbeatMs: 10 * SECOND, startedAt: at(1) });
      await store().instanceBeat({ instance: fast, now: BASE });
      await store().instanceBeat({ instance: slow, now: BASE });
      const states = async (ms: number) =>
        Object.fromEntries(
          (await store().instanceList({ now: at(ms) })).map((i) => [i.id, i.state]),
        );
      const lostAt = INSTANCE_LOST_AFTER_BEATS * SECOND;
      const goneAt = INSTANCE_REMOVED_AFTER_BEATS * SECOND;
      expect(await states(lostAt)).toEqual({ fast: 'alive', slow: 'alive' });
      expect(await states(lostAt + 1)).toEqual({ fast: 'lost', slow: 'alive' });
      expect(await states(goneAt)).toEqual({ fast: 'lost', slow: 'alive' });
      expect(await states(goneAt + 1)).toEqual({ slow: 'alive' });
      expect(await states(10 * lostAt + 1)).toEqual({ slow: 'lost' });
      // A beat brings a lost instance back.
      await store().instanceBeat({ instance: fast, now: at(goneAt + 5) });
      expect(await states(goneAt + 5)).toEqual({ fast: 'alive', slow: 'alive' });
    });

    it('instanceList shows the running and cancelling runs each instance holds, and only those', async () => {
      await store().instanceBeat({ instance: instance({ id: 'worker-a' }), now: BASE });
      await store().instanceBeat({ instance: instance({ id: 'worker-b' }), now: BASE });
      const running = await startRun(store(), { workerId: 'worker-a', now: at(10) });
      const cancelling = await startRun(store(), { workerId: 'worker-a', now: at(20) });
      await store().runCancel({
        id: cancelling.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'bob',
        now: at(25),
      });
      const finished = await startRun(store(), { workerId: 'worker-a', now: at(30) });
      await store().runFinishIfAttempt({
        ref: refOf(finished),
        now: at(35),
        outcome: { status: 'completed', result: null },
      });
      const elsewhere = await startRun(store(), { workerId: 'worker-b', now: at(40) });
      // Held by a worker that never registered: shown under no instance.
      await startRun(store(), { workerId: 'worker-z', now: at(50) });
      await insertRun(store());
      const listed = await store().instanceList({ now: at(60) });
      expect(listed.map((i) => [i.id, i.runs])).toEqual([
        [
          'worker-a',
          [
            { id: running.id, job: 'email', attempt: 1, status: 'running', startedAt: at(10) },
            {
              id: cancelling.id,
              job: 'email',
              attempt: 1,
              status: 'cancelling',
              startedAt: at(20),
            },
          ],
        ],
        [
          'worker-b',
          [{ id: elsewhere.id, job: 'email', attempt: 1, status: 'running', startedAt: at(40) }],
        ],
      ]);
    });

    it('instanceRemove unregisters an instance once', async () => {
      await store().instanceBeat({ instance: instance(), now: BASE });
      await store().instanceBeat({ instance: instance({ id: 'worker-b' }), now: BASE });
      expect(await store().instanceRemove({ id: 'worker-a' })).toBe(true);
      expect(await store().instanceRemove({ id: 'worker-a' })).toBe(false);
      expect((await store().instanceList({ now: BASE })).map((i) => i.id)).toEqual(['worker-b']);
    });

    it('instanceDeleteLost deletes only instances past 10 of their heartbeats', async () => {
      await store().instanceBeat({ instance: instance({ id: 'old' }), now: BASE });
      await store().instanceBeat({ instance: instance({ id: 'recent' }), now: at(5 * SECOND) });
      const goneAt = INSTANCE_REMOVED_AFTER_BEATS * SECOND;
      expect(await store().instanceDeleteLost({ now: at(goneAt) })).toBe(0);
      expect(await store().instanceDeleteLost({ now: at(goneAt + 1) })).toBe(1);
      // Deleted, not merely left out: a list at an earlier time no longer finds it.
      expect((await store().instanceList({ now: BASE })).map((i) => i.id)).toEqual(['recent']);
    });

    it("with now null, the store's own clock stamps the beat and judges the state", async () => {
      const before = await store().timeNow();
      await store().instanceBeat({ instance: instance({ heartbeatMs: 60 * SECOND }), now: null });
      const after = await store().timeNow();
      const [listed] = await store().instanceList({ now: null });
      expect(listed!.state).toBe('alive');
      expect(listed!.lastSeenAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
      expect(listed!.lastSeenAt.getTime()).toBeLessThanOrEqual(after.getTime());
      // Judged on that clock too: the same beat is lost to a caller far ahead of it.
      const ahead = new Date(after.getTime() + 3 * 60 * SECOND + 1);
      expect((await store().instanceList({ now: ahead }))[0]!.state).toBe('lost');
    });
  });

  const makeStorePair = ctx.makeStorePair;
  if (makeStorePair) {
    describe('instances across two store instances', () => {
      const stores = useStorePair(makeStorePair);

      it('each instance sees the registrations and held runs of the other', async () => {
        const [one, two] = stores();
        await one.instanceBeat({ instance: instance({ id: 'worker-a' }), now: BASE });
        await two.instanceBeat({
          instance: instance({ id: 'worker-b', host: 'host-2' }),
          now: BASE,
        });
        const run = await startRun(two, { workerId: 'worker-b', now: at(1) });
        for (const store of [one, two]) {
          const listed = await store.instanceList({ now: at(2) });
          expect(listed.map((i) => [i.id, i.host, i.runs.map((r) => r.id)])).toEqual([
            ['worker-a', 'host-1', []],
            ['worker-b', 'host-2', [run.id]],
          ]);
        }
        expect(await one.instanceRemove({ id: 'worker-b' })).toBe(true);
        expect((await two.instanceList({ now: at(3) })).map((i) => i.id)).toEqual(['worker-a']);
      });
    });
  }
}
