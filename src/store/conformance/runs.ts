import { describe, expect, it } from 'vitest';
import type { Run } from '../../core/run.js';
import type { RunListParams } from '../store.js';
import {
  BASE,
  DAY,
  HOUR,
  LEASE_MS,
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
  type ConformanceContext,
} from './fixture.js';

/** Insert, read, claim and finish runs; idempotency keys; exclusive inserts. */
export function describeRuns(ctx: ConformanceContext): void {
  describe('runs', () => {
    const store = useStore(ctx.makeStore);

    it('runInsert stores every field and runGet returns the same run', async () => {
      const params = insertParams({
        input: { groupId: 'g-1', batchSize: 5, nested: [1, 'two', null] },
        priority: 7,
        maxAttempts: 4,
        createdBy: 'bob',
        trigger: 'manual',
        idempotencyKey: 'key-1',
        expireAt: at(DAY),
        retentionMs: 3 * DAY,
        retryOf: 'some-earlier-run',
        parentId: 'some-parent-run',
      });
      const { run, created } = await store().runInsert(params);
      expect(created).toBe(true);
      const expected: Run = {
        id: params.id,
        job: 'email',
        input: { groupId: 'g-1', batchSize: 5, nested: [1, 'two', null] },
        status: 'pending',
        progress: null,
        items: [],
        result: null,
        error: null,
        lastError: null,
        attempt: 0,
        maxAttempts: 4,
        priority: 7,
        runAt: BASE,
        createdAt: BASE,
        startedAt: null,
        firstStartedAt: null,
        finishedAt: null,
        createdBy: 'bob',
        trigger: 'manual',
        idempotencyKey: 'key-1',
        workerId: null,
        leaseExpiresAt: null,
        cancel: null,
        pause: null,
        expireAt: at(DAY),
        retentionMs: 3 * DAY,
        retryOf: 'some-earlier-run',
        parentId: 'some-parent-run',
        attempts: [],
        stuckAt: null,
      };
      expect(run).toEqual(expected);
      expect(await store().runGet({ id: params.id })).toEqual(expected);
    });

    it('runInsert with a runAt in the future makes a scheduled run', async () => {
      const run = await insertRun(store(), { runAt: at(MINUTE) });
      expect(run.status).toBe('scheduled');
      expect(run.runAt).toEqual(at(MINUTE));
      expect((await getRun(store(), run.id)).status).toBe('scheduled');
    });

    it('runGet of an unknown id returns null', async () => {
      await insertRun(store());
      expect(await store().runGet({ id: insertParams().id })).toBeNull();
    });

    it('runCompleteMany completes the runs their attempts hold, in order, and answers null for fenced ones', async () => {
      const a = await startRun(store());
      const b = await startRun(store());
      const c = await startRun(store());
      const d = await startRun(store());
      // c was force-cancelled, d is being cancelled gracefully (it may still complete).
      await store().runCancel({
        id: c.id,
        mode: 'force',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      await store().runCancel({
        id: d.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      const stale = { ...refOf(b), workerId: 'worker-other' };
      const results = await store().runCompleteMany({
        now: at(10),
        runs: [
          { ref: refOf(a), result: { n: 1 } },
          { ref: stale, result: { n: 2 } },
          { ref: refOf(c), result: { n: 3 } },
          { ref: refOf(d), result: 'ok' },
        ],
      });
      expect(results.map((r) => r && { id: r.id, status: r.status, result: r.result })).toEqual([
        { id: a.id, status: 'completed', result: { n: 1 } },
        null,
        null,
        { id: d.id, status: 'completed', result: 'ok' },
      ]);
      expect(await getRun(store(), a.id)).toMatchObject({
        status: 'completed',
        finishedAt: at(10),
        error: null,
      });
      expect((await getRun(store(), b.id)).status).toBe('running');
      expect((await getRun(store(), c.id)).status).toBe('cancelled');
      expect(await store().runCompleteMany({ now: at(11), runs: [] })).toEqual([]);
    });

    it('create, claim and finish completed: result and finishedAt stored', async () => {
      const inserted = await insertRun(store());
      const [claimed] = await store().runClaim({
        workerId: 'worker-a',
        now: at(5),
        leaseMs: LEASE_MS,
        limit: 1,
        jobs: [{ name: 'email', concurrency: null }],
      });
      expect(claimed).toMatchObject({
        id: inserted.id,
        status: 'running',
        attempt: 1,
        workerId: 'worker-a',
        startedAt: at(5),
        leaseExpiresAt: at(5 + LEASE_MS),
        finishedAt: null,
      });
      const finished = await store().runFinishIfAttempt({
        ref: refOf(claimed!),
        now: at(100),
        outcome: { status: 'completed', result: { sent: 3 } },
      });
      expect(finished).toMatchObject({
        id: inserted.id,
        status: 'completed',
        result: { sent: 3 },
        error: null,
        attempt: 1,
        startedAt: at(5),
        finishedAt: at(100),
      });
      expect(await getRun(store(), inserted.id)).toEqual(finished);
    });

    it('finish failed stores the error and ends the run', async () => {
      const run = await startRun(store());
      const failed = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(10),
        outcome: {
          status: 'failed',
          error: { code: 'HANDLER_ERROR', message: 'boom' },
          result: { partial: true },
        },
      });
      expect(failed).toMatchObject({
        status: 'failed',
        error: { code: 'HANDLER_ERROR', message: 'boom' },
        result: { partial: true },
        finishedAt: at(10),
      });
      expect(await getRun(store(), run.id)).toEqual(failed);
    });

    it('finish scheduled backs off: lastError kept, claimed again at runAt as attempt 2', async () => {
      const run = await startRun(store());
      const backedOff = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(10),
        outcome: {
          status: 'scheduled',
          runAt: at(MINUTE),
          error: { code: 'HANDLER_ERROR', message: 'try again' },
        },
      });
      expect(backedOff).toMatchObject({
        status: 'scheduled',
        runAt: at(MINUTE),
        lastError: { code: 'HANDLER_ERROR', message: 'try again' },
        error: null,
        finishedAt: null,
        workerId: null,
        leaseExpiresAt: null,
        attempt: 1,
      });
      const claim = (now: Date) =>
        store().runClaim({
          workerId: 'worker-b',
          now,
          leaseMs: LEASE_MS,
          limit: 1,
          jobs: [{ name: 'email', concurrency: null }],
        });
      expect(await claim(at(MINUTE - 1))).toEqual([]);
      const [again] = await claim(at(MINUTE));
      expect(again).toMatchObject({
        id: run.id,
        status: 'running',
        attempt: 2,
        workerId: 'worker-b',
      });
    });

    it('finish pending releases the run without using up a try', async () => {
      const run = await startRun(store(), { insert: { maxAttempts: 1 } });
      const released = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(10),
        outcome: { status: 'pending' },
      });
      expect(released).toMatchObject({
        status: 'pending',
        attempt: 1,
        maxAttempts: 2,
        workerId: null,
        leaseExpiresAt: null,
        finishedAt: null,
      });
      const again = await startRunAgain(run.id, at(20));
      expect(again).toMatchObject({ attempt: 2, maxAttempts: 2, status: 'running' });
    });

    it('a finished attempt cannot finish again (LEASE_LOST)', async () => {
      const run = await startRun(store());
      const done = await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(10),
        outcome: { status: 'completed', result: 1 },
      });
      await expectErrorCode(
        store().runFinishIfAttempt({
          ref: refOf(run),
          now: at(20),
          outcome: { status: 'failed', error: { code: 'HANDLER_ERROR', message: 'late' } },
        }),
        'LEASE_LOST',
      );
      expect(await getRun(store(), run.id)).toEqual(done);
    });

    it('runFinishIfAttempt refuses a transition outside the table with INVALID_TRANSITION', async () => {
      const run = await startRun(store());
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(5),
      });
      const cancelling = await getRun(store(), run.id);
      expect(cancelling.status).toBe('cancelling');
      await expectErrorCode(
        store().runFinishIfAttempt({
          ref: refOf(run),
          now: at(10),
          outcome: {
            status: 'scheduled',
            runAt: at(MINUTE),
            error: { code: 'HANDLER_ERROR', message: 'retry me' },
          },
        }),
        'INVALID_TRANSITION',
      );
      await expectErrorCode(
        store().runFinishIfAttempt({
          ref: refOf(run),
          now: at(10),
          outcome: { status: 'pending' },
        }),
        'INVALID_TRANSITION',
      );
      expect(await getRun(store(), run.id)).toEqual(cancelling);
    });

    it('runProgressSet stores the progress of the attempt', async () => {
      const run = await startRun(store());
      const progress = { processed: 3, total: 10, percent: 30, message: 'three done' };
      await store().runProgressSet({ ref: refOf(run), progress, now: at(1) });
      expect((await getRun(store(), run.id)).progress).toEqual(progress);
      const later = { processed: 10, total: 10, percent: 100, message: null };
      await store().runProgressSet({ ref: refOf(run), progress: later, now: at(2) });
      expect((await getRun(store(), run.id)).progress).toEqual(later);
    });

    /** Claim `id` again (its job has no other waiting run). */
    async function startRunAgain(id: string, now: Date): Promise<Run> {
      const [claimed] = await store().runClaim({
        workerId: 'worker-b',
        now,
        leaseMs: LEASE_MS,
        limit: 1,
        jobs: [{ name: 'email', concurrency: null }],
      });
      expect(claimed?.id).toBe(id);
      return claimed!;
    }
  });

  describe('idempotency keys', () => {
    const store = useStore(ctx.makeStore);

    it('a second insert with the same (job, idempotencyKey) returns the first run', async () => {
      const first = await store().runInsert(insertParams({ idempotencyKey: 'order-42' }));
      const second = await store().runInsert(
        insertParams({ idempotencyKey: 'order-42', input: { other: true }, now: at(MINUTE) }),
      );
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.run).toEqual(first.run);
      const { runs } = await store().runList({ job: 'email', limit: 100 });
      expect(runs.map((r) => r.id)).toEqual([first.run.id]);
    });

    it('50 concurrent inserts with one key make exactly one run, all answers carry its id', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          store().runInsert(insertParams({ idempotencyKey: 'same-key' })),
        ),
      );
      const ids = new Set(results.map((r) => r.run.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const { runs } = await store().runList({ job: 'email', limit: 100 });
      expect(runs).toHaveLength(1);
      expect(runs[0]!.id).toBe([...ids][0]);
      expect(runs[0]!.id).toBe(results.find((r) => r.created)!.run.id);
    });

    it('idempotency keys are scoped to the job', async () => {
      const a = await store().runInsert(insertParams({ job: 'email', idempotencyKey: 'k' }));
      const b = await store().runInsert(insertParams({ job: 'sms', idempotencyKey: 'k' }));
      expect(a.created).toBe(true);
      expect(b.created).toBe(true);
      expect(a.run.id).not.toBe(b.run.id);
    });

    it('idempotency keys are scoped to the principal: another creator gets a run of their own', async () => {
      const alice = await store().runInsert(
        insertParams({ createdBy: 'alice', idempotencyKey: 'k', exclusive: true }),
      );
      const bob = await store().runInsert(insertParams({ createdBy: 'bob', idempotencyKey: 'k' }));
      expect(bob.created).toBe(true);
      expect(bob.run).toMatchObject({ createdBy: 'bob', idempotencyKey: 'k' });
      expect(bob.run.id).not.toBe(alice.run.id);
      const again = await store().runInsert(
        insertParams({ createdBy: 'bob', idempotencyKey: 'k' }),
      );
      expect(again).toMatchObject({ created: false, run: { id: bob.run.id } });
    });

    it('runs without an idempotency key are never merged', async () => {
      const a = await store().runInsert(insertParams());
      const b = await store().runInsert(insertParams());
      expect(a.created && b.created).toBe(true);
      const { runs } = await store().runList({ limit: 100 });
      expect(runs).toHaveLength(2);
    });

    it('the key still returns the first run after it has finished', async () => {
      const run = await startRun(store(), { insert: { idempotencyKey: 'once' } });
      await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(10),
        outcome: { status: 'completed', result: null },
      });
      const again = await store().runInsert(insertParams({ idempotencyKey: 'once', now: at(20) }));
      expect(again.created).toBe(false);
      expect(again.run).toMatchObject({ id: run.id, status: 'completed' });
    });
  });

  describe('exclusive inserts', () => {
    const store = useStore(ctx.makeStore);

    it('refused with ALREADY_RUNNING while a run of the job is pending', async () => {
      await insertRun(store());
      await expectErrorCode(
        store().runInsert(insertParams({ exclusive: true })),
        'ALREADY_RUNNING',
      );
      expect((await store().runList({ job: 'email', limit: 100 })).runs).toHaveLength(1);
    });

    it('refused with ALREADY_RUNNING while a run of the job is running or cancelling', async () => {
      const run = await startRun(store());
      await expectErrorCode(
        store().runInsert(insertParams({ exclusive: true })),
        'ALREADY_RUNNING',
      );
      await store().runCancel({
        id: run.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(1),
      });
      expect((await getRun(store(), run.id)).status).toBe('cancelling');
      await expectErrorCode(
        store().runInsert(insertParams({ exclusive: true })),
        'ALREADY_RUNNING',
      );
      expect((await store().runList({ job: 'email', limit: 100 })).runs).toHaveLength(1);
    });

    it('accepted once the active run has finished, and when only other jobs are active', async () => {
      await startRun(store(), { insert: { job: 'sms' } });
      const first = await store().runInsert(insertParams({ exclusive: true }));
      expect(first.created).toBe(true);
      const [claimed] = await store().runClaim({
        workerId: 'worker-a',
        now: at(1),
        leaseMs: LEASE_MS,
        limit: 1,
        jobs: [{ name: 'email', concurrency: null }],
      });
      await store().runFinishIfAttempt({
        ref: refOf(claimed!),
        now: at(2),
        outcome: { status: 'completed', result: null },
      });
      const second = await store().runInsert(insertParams({ exclusive: true, now: at(3) }));
      expect(second.created).toBe(true);
      expect(second.run.status).toBe('pending');
    });

    it('a run backing off for a retry blocks an exclusive insert; a future slot does not', async () => {
      await insertRun(store(), { runAt: at(HOUR), idempotencyKey: 'schedule:slot' });
      expect((await store().runInsert(insertParams({ exclusive: true }))).created).toBe(true);
      const [claimed] = await store().runClaim(claimParams({ now: at(1) }));
      await store().runFinishIfAttempt({
        ref: refOf(claimed!),
        now: at(2),
        outcome: {
          status: 'scheduled',
          runAt: at(MINUTE),
          error: { code: 'HANDLER_ERROR', message: 'x' },
        },
      });
      expect((await getRun(store(), claimed!.id)).status).toBe('scheduled');
      await expectErrorCode(
        store().runInsert(insertParams({ exclusive: true, now: at(3) })),
        'ALREADY_RUNNING',
      );
    });

    it('runCountUnfinished counts runs per unfinished status only', async () => {
      await insertRun(store());
      await insertRun(store(), { runAt: at(HOUR) });
      const running = await startRun(store(), { insert: { job: 'sms' } });
      const done = await startRun(store(), { insert: { job: 'push' } });
      await store().runFinishIfAttempt({
        ref: refOf(done),
        now: at(1),
        outcome: { status: 'completed', result: null },
      });
      await store().runCancel({
        id: running.id,
        mode: 'graceful',
        reason: null,
        requestedBy: 'alice',
        now: at(2),
      });
      expect(await store().runCountUnfinished()).toEqual({
        pending: 1,
        scheduled: 1,
        cancelling: 1,
      });
    });

    it('50 concurrent exclusive inserts create exactly one run', async () => {
      const settled = await Promise.allSettled(
        Array.from({ length: 50 }, () => store().runInsert(insertParams({ exclusive: true }))),
      );
      const created = settled.filter((s) => s.status === 'fulfilled');
      const refused = settled.filter((s) => s.status === 'rejected');
      expect(created).toHaveLength(1);
      expect(refused).toHaveLength(49);
      for (const r of refused)
        expect((r.reason as { code?: unknown }).code).toBe('ALREADY_RUNNING');
      expect((await store().runList({ job: 'email', limit: 100 })).runs).toHaveLength(1);
    });

    it('an exclusive insert with a known idempotency key returns the existing run', async () => {
      const first = await store().runInsert(insertParams({ idempotencyKey: 'k', exclusive: true }));
      const again = await store().runInsert(insertParams({ idempotencyKey: 'k', exclusive: true }));
      expect(again.created).toBe(false);
      expect(again.run.id).toBe(first.run.id);
    });

    it('50 concurrent exclusive inserts with one key all get the same run, none ALREADY_RUNNING', async () => {
      const settled = await Promise.allSettled(
        Array.from({ length: 50 }, () =>
          store().runInsert(insertParams({ idempotencyKey: 'one-key', exclusive: true })),
        ),
      );
      const refused = settled.flatMap((s) =>
        s.status === 'rejected' ? [s.reason as unknown] : [],
      );
      expect(refused).toEqual([]);
      const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect((await store().runList({ job: 'email', limit: 100 })).runs).toHaveLength(1);
    });
  });

  describe('runList', () => {
    const store = useStore(ctx.makeStore);

    it('lists newest first', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await insertRun(store(), { now: at(i) })).id);
      const { runs, nextCursor } = await store().runList({ limit: 10 });
      expect(runs.map((r) => r.id)).toEqual([...ids].reverse());
      expect(nextCursor).toBeNull();
    });

    it('filters by status list, job, createdBy and ids', async () => {
      const d = await startRun(store(), { insert: { job: 'sms', createdBy: 'bob' } });
      const a = await insertRun(store(), { job: 'email', createdBy: 'alice' });
      const b = await insertRun(store(), { job: 'email', createdBy: 'bob', runAt: at(MINUTE) });
      const c = await insertRun(store(), { job: 'sms', createdBy: 'alice' });
      // Every id is newer than the ones before, so newest first is c, b, a, d.
      const list = async (params: RunListParams) =>
        (await store().runList(params)).runs.map((r) => r.id);

      expect(await list({ limit: 10 })).toEqual([c.id, b.id, a.id, d.id]);
      expect(await list({ limit: 10, status: ['pending'] })).toEqual([c.id, a.id]);
      expect(await list({ limit: 10, status: ['scheduled', 'running'] })).toEqual([b.id, d.id]);
      expect(await list({ limit: 10, status: ['completed'] })).toEqual([]);
      expect(await list({ limit: 10, job: 'email' })).toEqual([b.id, a.id]);
      expect(await list({ limit: 10, createdBy: 'bob' })).toEqual([b.id, d.id]);
      expect(await list({ limit: 10, job: 'sms', createdBy: 'alice' })).toEqual([c.id]);
      expect(await list({ limit: 10, job: 'sms', status: ['pending', 'scheduled'] })).toEqual([
        c.id,
      ]);
      expect(await list({ limit: 10, ids: [a.id, d.id, insertParams().id] })).toEqual([a.id, d.id]);
      expect(await list({ limit: 10, job: 'nothing' })).toEqual([]);
    });

    it('cursor pagination covers every run exactly once, newest first', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 11; i++) {
        ids.push((await insertRun(store(), { job: i % 3 === 0 ? 'sms' : 'email' })).id);
      }
      const pages = async (filter: { job?: string }) => {
        const seen: string[] = [];
        let cursor: string | null = null;
        let count = 0;
        do {
          const page: { runs: Run[]; nextCursor: string | null } = await store().runList({
            ...filter,
            limit: 3,
            cursor,
          });
          expect(page.runs.length).toBeLessThanOrEqual(3);
          seen.push(...page.runs.map((r) => r.id));
          cursor = page.nextCursor;
          count += 1;
          expect(count).toBeLessThan(20);
        } while (cursor !== null);
        return { seen, count };
      };
      const all = await pages({});
      expect(all.seen).toEqual([...ids].reverse());
      expect(all.count).toBe(4);
      const email = await pages({ job: 'email' });
      const expectedEmail = ids.filter((_, i) => i % 3 !== 0).reverse();
      expect(email.seen).toEqual(expectedEmail);
      expect(email.count).toBe(Math.ceil(expectedEmail.length / 3));
    });
  });
}
