import { describe, expect, it } from 'vitest';
import type { Run } from '../../core/run.js';
import {
  DAY,
  HOUR,
  MINUTE,
  at,
  getRun,
  insertRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

/** Migrations, promotion of due runs, expiry of unstarted runs, retention. */
export function describeMaintenance(ctx: ConformanceContext): void {
  describe('maintenance', () => {
    const store = useStore(ctx.makeStore);

    it('migrate() on a migrated store applies nothing and keeps the data', async () => {
      const run = await insertRun(store());
      const again = await store().migrate();
      expect(again.applied).toEqual([]);
      expect(again.current).toBeGreaterThanOrEqual(1);
      const third = await store().migrate();
      expect(third).toEqual(again);
      expect(await store().runGet({ id: run.id })).toEqual(run);
    });

    it('ping resolves on an open store', async () => {
      await expect(store().ping()).resolves.toBeUndefined();
    });

    it('runPromoteDue makes due scheduled runs pending and leaves the others', async () => {
      const due = await insertRun(store(), { runAt: at(MINUTE) });
      const exactlyDue = await insertRun(store(), { runAt: at(2 * MINUTE) });
      const later = await insertRun(store(), { runAt: at(HOUR) });
      const running = await startRun(store());
      expect(await store().runPromoteDue({ now: at(2 * MINUTE) })).toBe(2);
      expect((await getRun(store(), due.id)).status).toBe('pending');
      expect((await getRun(store(), exactlyDue.id)).status).toBe('pending');
      expect((await getRun(store(), later.id)).status).toBe('scheduled');
      expect((await getRun(store(), running.id)).status).toBe('running');
      expect(await store().runPromoteDue({ now: at(2 * MINUTE) })).toBe(0);
    });

    it("runExpireUnstarted cancels waiting runs past expireAt with reason 'expired'", async () => {
      const pending = await insertRun(store(), { expireAt: at(MINUTE) });
      const scheduled = await insertRun(store(), { runAt: at(HOUR), expireAt: at(MINUTE) });
      const notYet = await insertRun(store(), { expireAt: at(HOUR) });
      const never = await insertRun(store(), { expireAt: null });
      const started = await startRun(store(), { insert: { job: 'sms', expireAt: at(MINUTE) } });

      expect(await store().runExpireUnstarted({ now: at(MINUTE - 1) })).toEqual([]);
      const now = at(MINUTE + 1);
      const expired = await store().runExpireUnstarted({ now });
      expect(new Set(expired.map((r) => r.id))).toEqual(new Set([pending.id, scheduled.id]));
      for (const run of expired) {
        expect(run).toMatchObject({ status: 'cancelled', finishedAt: now, attempt: 0 });
        expect(run.cancel?.reason).toBe('expired');
        expect(run.cancel?.requestedAt).toEqual(now);
        expect(await getRun(store(), run.id)).toEqual(run);
      }
      expect((await getRun(store(), notYet.id)).status).toBe('pending');
      expect((await getRun(store(), never.id)).status).toBe('pending');
      expect((await getRun(store(), started.id)).status).toBe('running');
      expect(await store().runExpireUnstarted({ now: at(MINUTE + 2) })).toEqual([]);
    });

    it('runExpireUnstarted leaves runs that already started and wait for a retry', async () => {
      const backingOff = await startRun(store(), { insert: { expireAt: at(MINUTE) } });
      await store().runFinishIfAttempt({
        ref: refOf(backingOff),
        now: at(10),
        outcome: {
          status: 'scheduled',
          runAt: at(HOUR),
          error: { code: 'HANDLER_ERROR', message: 'try later' },
        },
      });
      const released = await startRun(store(), { insert: { expireAt: at(MINUTE) } });
      await store().runFinishIfAttempt({
        ref: refOf(released),
        now: at(10),
        outcome: { status: 'pending' },
      });
      expect(await store().runExpireUnstarted({ now: at(2 * MINUTE) })).toEqual([]);
      expect((await getRun(store(), backingOff.id)).status).toBe('scheduled');
      expect((await getRun(store(), released.id)).status).toBe('pending');
    });

    it('runDeleteFinished deletes a finished run once finishedAt + retentionMs <= now', async () => {
      const completed = await finish(
        await startRun(store(), { insert: { retentionMs: DAY } }),
        at(HOUR),
      );
      const cancelled = await insertRun(store(), { retentionMs: 2 * DAY });
      await store().runCancel({
        id: cancelled.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(HOUR),
      });

      expect(await store().runDeleteFinished({ now: at(HOUR + DAY - 1), limit: 100 })).toBe(0);
      expect(await store().runGet({ id: completed.id })).not.toBeNull();
      expect(await store().runDeleteFinished({ now: at(HOUR + DAY), limit: 100 })).toBe(1);
      expect(await store().runGet({ id: completed.id })).toBeNull();
      expect(await store().runGet({ id: cancelled.id })).not.toBeNull();
      expect(await store().runDeleteFinished({ now: at(HOUR + 2 * DAY - 1), limit: 100 })).toBe(0);
      expect(await store().runDeleteFinished({ now: at(HOUR + 2 * DAY), limit: 100 })).toBe(1);
      expect(await store().runGet({ id: cancelled.id })).toBeNull();
    });

    it('runDeleteFinished never deletes unfinished runs', async () => {
      const scheduled = await insertRun(store(), { runAt: at(HOUR), retentionMs: 0 });
      const pending = await insertRun(store(), { retentionMs: 0 });
      const running = await startRun(store(), { insert: { job: 'sms', retentionMs: 0 } });
      const cancelling = await startRun(store(), { insert: { job: 'sms', retentionMs: 0 } });
      await store().runCancel({
        id: cancelling.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      expect(await store().runDeleteFinished({ now: at(3650 * DAY), limit: 100 })).toBe(0);
      for (const run of [scheduled, pending, running, cancelling]) {
        expect(await store().runGet({ id: run.id })).not.toBeNull();
      }
    });

    it("runDeleteFinished deletes the run's logs and items too", async () => {
      const run = await startRun(store(), { insert: { retentionMs: HOUR } });
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'x' } },
        ],
      });
      await store().logAppend({
        runId: run.id,
        ref: refOf(run),
        entries: [
          { level: 'info', message: 'one', time: at(1) },
          { level: 'warn', message: 'two', time: at(2) },
        ],
        cap: 100,
      });
      await finish(run, at(10));
      const kept = await startRun(store(), { insert: { retentionMs: 10 * DAY } });
      await store().logAppend({
        runId: kept.id,
        entries: [{ level: 'info', message: 'kept', time: at(1) }],
        cap: 100,
      });
      expect(await store().runDeleteFinished({ now: at(10 + HOUR), limit: 100 })).toBe(1);
      expect(await store().runGet({ id: run.id })).toBeNull();
      expect(await store().logList({ runId: run.id })).toEqual([]);
      // A run inserted again under the same id starts without the old items and logs.
      const reborn = await insertRun(store(), { id: run.id, now: at(20 + HOUR) });
      expect(reborn.items).toEqual([]);
      expect((await getRun(store(), run.id)).items).toEqual([]);
      expect(await store().logList({ runId: run.id })).toEqual([]);
      const logged = await store().logAppend({
        runId: run.id,
        entries: [{ level: 'info', message: 'fresh', time: at(21 + HOUR) }],
        cap: 100,
      });
      expect(logged.map((l) => l.seq)).toEqual([1]);
      expect(await store().logList({ runId: kept.id })).toHaveLength(1);
    });

    it('runDeleteFinished deletes at most limit runs per call', async () => {
      for (let i = 0; i < 3; i++) {
        const run = await insertRun(store(), { retentionMs: 0 });
        await store().runCancel({
          id: run.id,
          mode: 'force',
          reason: null,
          requestedBy: 'alice',
          now: at(1),
        });
      }
      expect(await store().runDeleteFinished({ now: at(2), limit: 2 })).toBe(2);
      expect(await store().runDeleteFinished({ now: at(2), limit: 2 })).toBe(1);
      expect(await store().runDeleteFinished({ now: at(2), limit: 2 })).toBe(0);
      expect((await store().runList({ limit: 10 })).runs).toEqual([]);
    });

    /** Complete a held run at `now`. */
    async function finish(run: Run, now: Date): Promise<Run> {
      return store().runFinishIfAttempt({
        ref: refOf(run),
        now,
        outcome: { status: 'completed', result: null },
      });
    }
  });
}
