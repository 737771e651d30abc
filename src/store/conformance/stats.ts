import { describe, expect, it } from 'vitest';
import type { Run } from '../../core/run.js';
import type { RunFinishOutcome, RunStatsBucket, Store } from '../store.js';
import {
  BASE,
  HOUR,
  MINUTE,
  SECOND,
  at,
  claimParams,
  forceCancel,
  insertRun,
  refOf,
  useStore,
  type ConformanceContext,
} from './fixture.js';

const NO_ENDS = { completed: 0, partial: 0, failed: 0, cancelled: 0 };

/** Claim exactly `run` at `now` (its job has no other due run). */
async function claim(store: Store, run: Run, now: Date): Promise<Run> {
  const claimed = await store.runClaim(
    claimParams({ now, limit: 1, jobs: [{ name: run.job, concurrency: null }] }),
  );
  expect(claimed.map((r) => r.id)).toEqual([run.id]);
  return claimed[0]!;
}

/** A run of `job` created at `created`, started at `started`, ended at `ended` with `outcome`. */
async function runThrough(
  store: Store,
  job: string,
  created: number,
  started: number,
  ended: number,
  outcome: RunFinishOutcome = { status: 'completed', result: null },
): Promise<Run> {
  const run = await insertRun(store, { job, now: at(created), runAt: at(created) });
  const held = await claim(store, run, at(started));
  return store.runFinishIfAttempt({ ref: refOf(held), now: at(ended), outcome });
}

/** runStats: buckets per job, counts by time, nearest-rank percentiles, and the runs waiting now. */
export function describeStats(ctx: ConformanceContext): void {
  describe('statistics', () => {
    const store = useStore(ctx.makeStore);
    const hours = (from: number, to: number, now = at(to * HOUR)) =>
      store().runStats({ from: at(from * HOUR), to: at(to * HOUR), bucketMs: HOUR, now });

    it('an empty store has no buckets and nothing waiting', async () => {
      expect(await hours(0, 24)).toEqual({
        buckets: [],
        now: {
          unfinished: {
            scheduled: 0,
            pending: 0,
            running: 0,
            cancelling: 0,
            paused: 0,
            waiting: 0,
          },
          oldestDue: null,
        },
      });
    });

    it('counts each run in the bucket of each of its times, per job', async () => {
      // Created in hour 0, started in hour 1, completed in hour 2.
      await runThrough(store(), 'email', 10 * MINUTE, HOUR + 5 * MINUTE, 2 * HOUR + 1);
      // All in hour 0; it failed.
      await runThrough(store(), 'email', MINUTE, 2 * MINUTE, 3 * MINUTE, {
        status: 'failed',
        error: { code: 'HANDLER_ERROR', message: 'no' },
      });
      // Another job in hour 1: partial.
      await runThrough(store(), 'sms', HOUR, HOUR + SECOND, HOUR + 4 * SECOND, {
        status: 'partial',
        result: null,
      });
      // Cancelled before it started, in hour 2: no start, no duration.
      const never = await insertRun(store(), { job: 'email', now: at(2 * HOUR) });
      await forceCancel(store(), never.id, at(2 * HOUR + MINUTE));
      // Before the window: created at -1 h, force-cancelled while running in hour 0.
      const early = await insertRun(store(), { job: 'sms', now: at(-HOUR), runAt: at(-HOUR) });
      await claim(store(), early, at(-HOUR + MINUTE));
      await forceCancel(store(), early.id, at(30 * MINUTE));

      const { buckets } = await hours(0, 3);
      const expected: RunStatsBucket[] = [
        {
          start: at(0),
          job: 'email',
          created: 2,
          started: 1,
          ended: { ...NO_ENDS, failed: 1 },
          durationMs: { p50: MINUTE, p95: MINUTE },
          queueWaitMs: { p50: MINUTE, p95: MINUTE },
        },
        {
          start: at(0),
          job: 'sms',
          created: 0,
          started: 0,
          ended: { ...NO_ENDS, cancelled: 1 },
          // Started at -00:59, ended at 00:30.
          durationMs: { p50: 89 * MINUTE, p95: 89 * MINUTE },
          queueWaitMs: null,
        },
        {
          start: at(HOUR),
          job: 'email',
          created: 0,
          started: 1,
          ended: NO_ENDS,
          durationMs: null,
          queueWaitMs: { p50: 55 * MINUTE, p95: 55 * MINUTE },
        },
        {
          start: at(HOUR),
          job: 'sms',
          created: 1,
          started: 1,
          ended: { ...NO_ENDS, partial: 1 },
          durationMs: { p50: 3 * SECOND, p95: 3 * SECOND },
          queueWaitMs: { p50: SECOND, p95: SECOND },
        },
        {
          start: at(2 * HOUR),
          job: 'email',
          created: 1,
          started: 0,
          ended: { ...NO_ENDS, completed: 1, cancelled: 1 },
          durationMs: { p50: 55 * MINUTE + 1, p95: 55 * MINUTE + 1 },
          queueWaitMs: null,
        },
      ];
      expect(buckets).toEqual(expected);
    });

    it('the window is half-open and buckets are aligned to their size from the epoch', async () => {
      // Created at 00:04:59.999, 00:05, 00:09:59.999 and 00:10 (the window ends there).
      for (const created of [5 * MINUTE - 1, 5 * MINUTE, 10 * MINUTE - 1, 10 * MINUTE])
        await insertRun(store(), { now: at(created), runAt: at(created + HOUR) });
      const stats = await store().runStats({
        from: at(0),
        to: at(10 * MINUTE),
        bucketMs: 5 * MINUTE,
        now: at(10 * MINUTE),
      });
      expect(stats.buckets.map((b) => [b.start, b.created])).toEqual([
        [at(0), 1],
        [at(5 * MINUTE), 2],
      ]);
      // BASE is midnight UTC: a day's buckets start at midnight, whatever the window's start.
      const days = await store().runStats({
        from: at(-24 * HOUR),
        to: at(24 * HOUR),
        bucketMs: 24 * HOUR,
        now: at(0),
      });
      expect(days.buckets.map((b) => [b.start, b.created])).toEqual([[BASE, 4]]);
    });

    it('percentiles are nearest-rank: the value at rank ceil(p × n)', async () => {
      // 20 runs: queue waits of 1..20 s, durations of 20..1 s. p50 is rank 10, p95 rank 19.
      const runs: Run[] = [];
      for (let i = 0; i < 20; i++) runs.push(await insertRun(store(), { job: 'twenty' }));
      for (let i = 1; i <= 20; i++) {
        const held = await claim(store(), runs[i - 1]!, at(i * SECOND));
        await store().runFinishIfAttempt({
          ref: refOf(held),
          now: at(i * SECOND + (21 - i) * SECOND),
          outcome: { status: 'completed', result: null },
        });
      }
      // 21 runs: p50 is rank 11, p95 rank 20 (ceil 19.95); equal values count once each.
      const waits = [
        ...Array.from({ length: 10 }, () => 0),
        ...Array.from({ length: 11 }, (_, i) => i + 1),
      ];
      for (const wait of waits) {
        const run = await insertRun(store(), { job: 'twentyone' });
        const held = await claim(store(), run, at(wait * SECOND));
        await store().runFinishIfAttempt({
          ref: refOf(held),
          now: at(wait * SECOND + 2 * SECOND),
          outcome: { status: 'completed', result: null },
        });
      }
      const { buckets } = await hours(0, 1);
      expect(buckets.map((b) => [b.job, b.started, b.queueWaitMs, b.durationMs])).toEqual([
        [
          'twenty',
          20,
          { p50: 10 * SECOND, p95: 19 * SECOND },
          { p50: 10 * SECOND, p95: 19 * SECOND },
        ],
        ['twentyone', 21, { p50: SECOND, p95: 10 * SECOND }, { p50: 2 * SECOND, p95: 2 * SECOND }],
      ]);
    });

    it('a retried run counts its latest start, waiting from the time it was due again', async () => {
      const run = await insertRun(store(), { job: 'retry', now: at(0) });
      const first = await claim(store(), run, at(MINUTE));
      await store().runFinishIfAttempt({
        ref: refOf(first),
        now: at(2 * MINUTE),
        outcome: {
          status: 'scheduled',
          runAt: at(10 * MINUTE),
          error: { code: 'HANDLER_ERROR', message: 'again' },
        },
      });
      const second = await claim(store(), run, at(12 * MINUTE));
      await store().runFinishIfAttempt({
        ref: refOf(second),
        now: at(13 * MINUTE),
        outcome: { status: 'completed', result: null },
      });
      const { buckets } = await hours(0, 1);
      expect(buckets).toEqual([
        {
          start: at(0),
          job: 'retry',
          created: 1,
          started: 1,
          ended: { ...NO_ENDS, completed: 1 },
          durationMs: { p50: MINUTE, p95: MINUTE },
          queueWaitMs: { p50: 2 * MINUTE, p95: 2 * MINUTE },
        },
      ]);
    });

    it('running and cancelling runs count where they were created and started', async () => {
      // Created at 00:10, running since 00:40 (waited 30 min).
      const running = await insertRun(store(), {
        job: 'a',
        now: at(10 * MINUTE),
        runAt: at(10 * MINUTE),
      });
      await claim(store(), running, at(40 * MINUTE));
      // Created at 00:20, running since 01:20 (waited 60 min), then asked to stop gracefully.
      const stopping = await insertRun(store(), {
        job: 'a',
        now: at(20 * MINUTE),
        runAt: at(20 * MINUTE),
      });
      await claim(store(), stopping, at(HOUR + 20 * MINUTE));
      await store().runCancel({
        id: stopping.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(HOUR + 30 * MINUTE),
      });
      // And one that ended, among them: created 00:00, started 00:20 (waited 20 min).
      await runThrough(store(), 'a', 0, 20 * MINUTE, 25 * MINUTE);

      expect((await hours(0, 2)).buckets).toEqual([
        {
          start: at(0),
          job: 'a',
          created: 3,
          started: 2,
          ended: { ...NO_ENDS, completed: 1 },
          durationMs: { p50: 5 * MINUTE, p95: 5 * MINUTE },
          queueWaitMs: { p50: 20 * MINUTE, p95: 30 * MINUTE },
        },
        {
          start: at(HOUR),
          job: 'a',
          created: 0,
          started: 1,
          ended: NO_ENDS,
          durationMs: null,
          queueWaitMs: { p50: HOUR, p95: HOUR },
        },
      ]);
    });

    it('now: unfinished runs by status and the due run that has waited longest', async () => {
      const now = at(HOUR);
      // Running, then asked to stop gracefully.
      const stopping = await insertRun(store(), { job: 'a', now: at(0) });
      await claim(store(), stopping, at(MINUTE));
      await store().runCancel({
        id: stopping.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(2 * MINUTE),
      });
      const running = await insertRun(store(), { job: 'b', now: at(0) });
      await claim(store(), running, at(MINUTE));
      // Over several priorities: pending since 00:20 (priority 5); a schedule slot for 00:05
      // inserted late, at 00:10 (priority 0, due since 00:05); scheduled for 00:15 and not yet
      // promoted (priority 0, due); scheduled for later (priority 9, not due); pending since
      // 00:30 (priority -3).
      await insertRun(store(), {
        job: 'c',
        now: at(20 * MINUTE),
        runAt: at(20 * MINUTE),
        priority: 5,
      });
      const late = await insertRun(store(), {
        job: 'c',
        now: at(10 * MINUTE),
        runAt: at(5 * MINUTE),
      });
      await insertRun(store(), { job: 'c', now: at(0), runAt: at(15 * MINUTE) });
      await insertRun(store(), { job: 'c', now: at(0), runAt: at(2 * HOUR), priority: 9 });
      await insertRun(store(), {
        job: 'c',
        now: at(30 * MINUTE),
        runAt: at(30 * MINUTE),
        priority: -3,
      });

      const stats = await store().runStats({ from: at(0), to: now, bucketMs: HOUR, now });
      expect(stats.now).toEqual({
        unfinished: { scheduled: 2, pending: 3, running: 1, cancelling: 1, paused: 0, waiting: 0 },
        oldestDue: { id: late.id, job: 'c', dueAt: at(5 * MINUTE) },
      });
      // Before anything was due, nothing has waited.
      const earlier = await store().runStats({ from: at(0), to: now, bucketMs: HOUR, now: at(-1) });
      expect(earlier.now.oldestDue).toBeNull();
    });
  });
}
