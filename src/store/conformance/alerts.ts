import { describe, expect, it } from 'vitest';
import { newRunId } from '../../core/ids.js';
import type { AlertInsertParams, Store } from '../store.js';
import {
  BASE,
  DAY,
  MINUTE,
  SECOND,
  at,
  getRun,
  insertRun,
  refOf,
  startRun,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** Insert params of an alert of rule `failures` for job `email`, fired on `key`, at BASE. */
function alertParams(overrides: Partial<AlertInsertParams> = {}): AlertInsertParams {
  return {
    id: newRunId(),
    rule: 'failures',
    key: 'seq:1',
    event: 'run.failed',
    job: 'email',
    runId: null,
    severity: 'critical',
    message: 'email failed',
    payload: { hello: 'world' },
    channels: ['ops', 'team'],
    cooldownMs: 10 * MINUTE,
    now: BASE,
    ...overrides,
  };
}

const claim = (store: Store, owner: string, now: Date, channels = ['ops', 'team']) =>
  store.alertDeliveryClaim({ owner, channels, now, leaseMs: 30 * SECOND, limit: 10 });

const attempt = (ok: boolean, when: Date) => ({
  at: when,
  ok,
  durationMs: 12,
  ...(ok ? { status: 200 } : { status: 503, error: 'HTTP 503: down' }),
});

/** Stuck runs, alerts recorded once per rule and event, cooldowns, and leased deliveries. */
export function describeAlerts(ctx: ConformanceContext): void {
  describe('stuck runs', () => {
    const store = useStore(ctx.makeStore);
    const mark = (now: Date, jobs: { name: string; afterMs: number | null }[] = []) =>
      store().runMarkStuck({ now, defaultAfterMs: 20 * MINUTE, jobs, limit: 100 });

    it('runMarkStuck marks an attempt running past the limit once, with a run.stuck event', async () => {
      const run = await startRun(store());
      expect((await getRun(store(), run.id)).stuckAt).toBeNull();
      expect(await mark(at(20 * MINUTE - 1))).toEqual([]);
      const marked = await mark(at(20 * MINUTE));
      expect(marked.map((r) => [r.id, r.stuckAt])).toEqual([[run.id, at(20 * MINUTE)]]);
      expect((await getRun(store(), run.id)).stuckAt).toEqual(at(20 * MINUTE));
      expect(await mark(at(HOUR_LATER))).toEqual([]);
      const { events } = await store().eventList({ afterSeq: 0, limit: 100 });
      const stuck = events.filter((e) => e.name === 'run.stuck');
      expect(stuck.map((e) => [e.runId, e.status])).toEqual([[run.id, 'running']]);
      expect(stuck[0]!.name === 'run.stuck' && stuck[0]!.run?.stuckAt).toEqual(at(20 * MINUTE));
    });

    it('a new attempt is judged afresh: stuckAt clears and it may be marked again', async () => {
      const first = await startRun(store(), { insert: { maxAttempts: 2 } });
      await mark(at(20 * MINUTE));
      await store().runFinishIfAttempt({
        ref: refOf(first),
        now: at(21 * MINUTE),
        outcome: {
          status: 'scheduled',
          runAt: at(21 * MINUTE),
          error: { code: 'HANDLER_ERROR', message: 'again' },
        },
      });
      const [second] = await store().runClaim({
        workerId: 'worker-b',
        now: at(22 * MINUTE),
        leaseMs: DAY,
        limit: 1,
        jobs: [{ name: 'email', concurrency: null }],
      });
      expect(second!.attempt).toBe(2);
      expect(second!.stuckAt).toBeNull();
      // The events say which attempt they were about, whatever the run is now.
      const { events } = await store().eventList({ afterSeq: 0, limit: 100 });
      expect(
        events
          .filter((e) => ['run.started', 'run.stuck', 'run.retrying'].includes(e.name))
          .map((e) => `${e.name}:${e.attempt}`),
      ).toEqual(['run.started:1', 'run.stuck:1', 'run.retrying:1', 'run.started:2']);
      expect(await mark(at(41 * MINUTE))).toEqual([]);
      expect((await mark(at(42 * MINUTE))).map((r) => [r.attempt, r.stuckAt])).toEqual([
        [2, at(42 * MINUTE)],
      ]);
    });

    it("a job's own limit wins over the default; a null limit is never stuck", async () => {
      const quick = await startRun(store(), { insert: { job: 'quick' } });
      const never = await startRun(store(), { insert: { job: 'never' } });
      const other = await startRun(store(), { insert: { job: 'other' } });
      const jobs = [
        { name: 'quick', afterMs: MINUTE },
        { name: 'never', afterMs: null },
      ];
      expect((await mark(at(MINUTE), jobs)).map((r) => r.id)).toEqual([quick.id]);
      expect((await mark(at(DAY), jobs)).map((r) => r.id)).toEqual([other.id]);
      expect((await getRun(store(), never.id)).stuckAt).toBeNull();
    });

    it('waiting and finished runs are never stuck', async () => {
      await insertRun(store());
      const done = await startRun(store(), { insert: { job: 'sms' } });
      await store().runFinishIfAttempt({
        ref: refOf(done),
        now: at(1),
        outcome: { status: 'completed', result: null },
      });
      expect(await mark(at(DAY))).toEqual([]);
    });

    it('runOldestDueByJob gives, per job, the waiting run due longest before the threshold', async () => {
      const oldEmail = await insertRun(store(), { runAt: at(0) });
      await insertRun(store(), { runAt: at(MINUTE) });
      const sms = await insertRun(store(), { job: 'sms', runAt: at(2 * MINUTE) });
      await insertRun(store(), { job: 'late', runAt: at(10 * MINUTE) });
      await startRun(store(), { insert: { job: 'busy' } });
      const found = await store().runOldestDueByJob({ dueBefore: at(5 * MINUTE) });
      expect(found.sort((a, b) => a.job.localeCompare(b.job))).toEqual([
        { job: 'email', id: oldEmail.id, dueAt: at(0) },
        { job: 'sms', id: sms.id, dueAt: at(2 * MINUTE) },
      ]);
    });
  });

  describe('alerts', () => {
    const store = useStore(ctx.makeStore);

    it('alertInsert records a rule and key once, with a pending delivery per channel', async () => {
      const first = await store().alertInsert(alertParams());
      expect(first.created).toBe(true);
      expect(first.alert).toMatchObject({
        rule: 'failures',
        key: 'seq:1',
        event: 'run.failed',
        job: 'email',
        severity: 'critical',
        message: 'email failed',
        payload: { hello: 'world' },
        suppressed: false,
        createdAt: BASE,
      });
      expect(first.alert!.deliveries).toEqual([
        { channel: 'ops', status: 'pending', attempts: [], nextAttemptAt: BASE, finishedAt: null },
        { channel: 'team', status: 'pending', attempts: [], nextAttemptAt: BASE, finishedAt: null },
      ]);
      const again = await store().alertInsert(alertParams({ now: at(1) }));
      expect(again).toEqual({ created: false, alert: null });
      // Another rule may fire on the same event.
      expect((await store().alertInsert(alertParams({ rule: 'everything' }))).created).toBe(true);
      expect(await store().alertList({ limit: 10 })).toHaveLength(2);
    });

    it('within the cooldown of its rule and job an alert is recorded suppressed; after it, sent', async () => {
      await store().alertInsert(alertParams());
      const within = await store().alertInsert(
        alertParams({ key: 'seq:2', now: at(10 * MINUTE - 1) }),
      );
      expect(within.alert).toMatchObject({ suppressed: true, deliveries: [] });
      // Other jobs and other rules have cooldowns of their own.
      const otherJob = await store().alertInsert(
        alertParams({ key: 'seq:3', job: 'sms', now: at(MINUTE) }),
      );
      expect(otherJob.alert!.suppressed).toBe(false);
      const after = await store().alertInsert(alertParams({ key: 'seq:4', now: at(10 * MINUTE) }));
      expect(after.alert).toMatchObject({ suppressed: false });
      expect(after.alert!.deliveries).toHaveLength(2);
      // A suppressed alert does not extend the cooldown; a sent one starts a new one.
      const next = await store().alertInsert(
        alertParams({ key: 'seq:5', now: at(20 * MINUTE - 1) }),
      );
      expect(next.alert!.suppressed).toBe(true);
    });

    it('alertList is newest first, pages with before, and carries the deliveries', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = newRunId();
        ids.push(id);
        await store().alertInsert(alertParams({ id, key: `seq:${i}`, cooldownMs: 0, now: at(i) }));
      }
      const page = await store().alertList({ limit: 2 });
      expect(page.map((a) => a.id)).toEqual([ids[2], ids[1]]);
      expect(page[0]!.deliveries.map((d) => d.channel)).toEqual(['ops', 'team']);
      const rest = await store().alertList({ limit: 2, before: page[1]!.id });
      expect(rest.map((a) => a.id)).toEqual([ids[0]]);
    });

    it('a claimed delivery is leased: nobody else gets it until the lease ends', async () => {
      const { alert } = await store().alertInsert(alertParams({ channels: ['ops'] }));
      const claimed = await claim(store(), 'a', at(1));
      expect(claimed).toEqual([
        {
          alertId: alert!.id,
          channel: 'ops',
          attemptCount: 0,
          rule: 'failures',
          event: 'run.failed',
          job: 'email',
          runId: null,
          severity: 'critical',
          message: 'email failed',
          payload: { hello: 'world' },
        },
      ]);
      expect(await claim(store(), 'b', at(2))).toEqual([]);
      // Only for channels the claimer knows.
      expect(await claim(store(), 'c', at(31 * SECOND), ['team'])).toEqual([]);
      const taken = await claim(store(), 'b', at(31 * SECOND));
      expect(taken.map((t) => t.alertId)).toEqual([alert!.id]);
      // The first holder lost it: its record is refused.
      expect(
        await store().alertDeliveryRecord({
          alertId: alert!.id,
          channel: 'ops',
          owner: 'a',
          attempt: attempt(true, at(32 * SECOND)),
          outcome: { status: 'delivered' },
          now: at(32 * SECOND),
        }),
      ).toBe(false);
    });

    it('each attempt is recorded; a retry is due after its wait; delivered and failed are final', async () => {
      const { alert } = await store().alertInsert(alertParams());
      const [ops, team] = await claim(store(), 'a', at(1));
      const record = (
        channel: string,
        ok: boolean,
        when: Date,
        outcome: 'delivered' | 'failed' | 'retry',
      ) =>
        store().alertDeliveryRecord({
          alertId: alert!.id,
          channel,
          owner: 'a',
          attempt: attempt(ok, when),
          outcome:
            outcome === 'retry' ? { status: 'retry', retryInMs: 5 * SECOND } : { status: outcome },
          now: when,
        });
      expect(ops!.channel).toBe('ops');
      expect(await record('ops', false, at(10), 'retry')).toBe(true);
      expect(await record('team', false, at(10), 'failed')).toBe(true);
      // Recorded once: the lease ended with the attempt.
      expect(await record('team', false, at(11), 'failed')).toBe(false);
      expect(team!.channel).toBe('team');
      expect(await claim(store(), 'b', at(5 * SECOND + 9))).toEqual([]);
      const [retry] = await claim(store(), 'b', at(5 * SECOND + 10));
      expect(retry).toMatchObject({ channel: 'ops', attemptCount: 1 });
      expect(
        await store().alertDeliveryRecord({
          alertId: alert!.id,
          channel: 'ops',
          owner: 'b',
          attempt: attempt(true, at(6 * SECOND)),
          outcome: { status: 'delivered' },
          now: at(6 * SECOND),
        }),
      ).toBe(true);
      expect(await claim(store(), 'c', at(DAY))).toEqual([]);
      const [listed] = await store().alertList({ limit: 1 });
      expect(listed!.deliveries).toEqual([
        {
          channel: 'ops',
          status: 'delivered',
          nextAttemptAt: null,
          finishedAt: at(6 * SECOND),
          attempts: [attempt(false, at(10)), attempt(true, at(6 * SECOND))],
        },
        {
          channel: 'team',
          status: 'failed',
          nextAttemptAt: null,
          finishedAt: at(10),
          attempts: [attempt(false, at(10))],
        },
      ]);
    });

    it('alertDeleteExpired removes alerts past the retention with their deliveries', async () => {
      await store().alertInsert(alertParams({ key: 'seq:1', cooldownMs: 0, now: at(0) }));
      await store().alertInsert(alertParams({ key: 'seq:2', cooldownMs: 0, now: at(DAY) }));
      expect(
        await store().alertDeleteExpired({ now: at(DAY + 1), retentionMs: DAY, limit: 100 }),
      ).toBe(1);
      expect((await store().alertList({ limit: 10 })).map((a) => a.key)).toEqual(['seq:2']);
      expect(await claim(store(), 'a', at(DAY + 1))).toHaveLength(2);
    });
  });

  if (ctx.makeStorePair) {
    const makeStorePair = ctx.makeStorePair;
    describe('alerts across two instances', () => {
      const stores = useStorePair(makeStorePair);

      it('two instances recording the same event at once: one alert, one delivery per channel', async () => {
        const [a, b] = stores();
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).alertInsert(alertParams())),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const [listed] = await a.alertList({ limit: 10 });
        expect(listed!.deliveries.map((d) => d.channel)).toEqual(['ops', 'team']);
      });

      it('two events within one cooldown at once: one is sent, the other suppressed', async () => {
        const [a, b] = stores();
        const [first, second] = await Promise.all([
          a.alertInsert(alertParams({ key: 'seq:1' })),
          b.alertInsert(alertParams({ key: 'seq:2' })),
        ]);
        expect([first.alert!.suppressed, second.alert!.suppressed].sort()).toEqual([false, true]);
      });

      it('claims at once take disjoint deliveries', async () => {
        const [a, b] = stores();
        for (let i = 0; i < 10; i++)
          await a.alertInsert(alertParams({ key: `seq:${i}`, cooldownMs: 0 }));
        const [mine, theirs] = await Promise.all([claim(a, 'a', at(1)), claim(b, 'b', at(1))]);
        const keys = [...mine, ...theirs].map((t) => `${t.alertId}/${t.channel}`);
        expect(new Set(keys).size).toBe(keys.length);
      });

      it('runMarkStuck from two instances at once marks each attempt once', async () => {
        const [a, b] = stores();
        for (let i = 0; i < 5; i++) await startRun(a);
        const params = { now: at(DAY), defaultAfterMs: MINUTE, jobs: [], limit: 100 };
        const [x, y] = await Promise.all([a.runMarkStuck(params), b.runMarkStuck(params)]);
        expect(x.length + y.length).toBe(5);
        const { events } = await a.eventList({ afterSeq: 0, limit: 100 });
        expect(events.filter((e) => e.name === 'run.stuck')).toHaveLength(5);
      });
    });
  }
}

const HOUR_LATER = 60 * MINUTE;
