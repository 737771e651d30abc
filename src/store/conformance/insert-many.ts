import { describe, expect, it } from 'vitest';
import { newRunId } from '../../core/ids.js';
import type { Run } from '../../core/run.js';
import type { RunInsertManyParams } from '../store.js';
import {
  BASE,
  DAY,
  MINUTE,
  at,
  claimParams,
  getRun,
  insertParams,
  insertRun,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** One run of a bulk insert with defaults: job `email`, pending at BASE, by `alice`. */
function manyRun(
  overrides: Partial<RunInsertManyParams['runs'][number]> = {},
): RunInsertManyParams['runs'][number] {
  const { now: _now, exclusive: _exclusive, ...run } = insertParams();
  return { ...run, id: newRunId(), ...overrides };
}

/** `runInsertMany`: many runs in one statement, idempotency keys honoured run by run. */
export function describeInsertMany(ctx: ConformanceContext): void {
  describe('runInsertMany', () => {
    const store = useStore(ctx.makeStore);

    it('stores every field of each run as runInsert does, and answers in the order given', async () => {
      const runs = [
        manyRun({
          input: { groupId: 'g-1', nested: [1, 'two', null, { deep: true }] },
          priority: 7,
          maxAttempts: 4,
          createdBy: 'bob',
          trigger: 'manual',
          idempotencyKey: 'key-1',
          expireAt: at(DAY),
          retentionMs: 3 * DAY,
          retryOf: 'some-earlier-run',
          parentId: 'some-parent-run',
        }),
        manyRun({ job: 'sms', input: 'just text', runAt: at(MINUTE) }),
        manyRun({ job: 'pdf', input: null, priority: -3 }),
      ];
      const answers = await store().runInsertMany({ now: BASE, runs });
      expect(answers.map((a) => a.created)).toEqual([true, true, true]);
      expect(answers.map((a) => a.run.id)).toEqual(runs.map((r) => r.id));
      const expected: Run = {
        id: runs[0]!.id,
        job: 'email',
        input: { groupId: 'g-1', nested: [1, 'two', null, { deep: true }] },
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
      expect(answers[0]!.run).toEqual(expected);
      expect(answers[1]!.run).toMatchObject({
        job: 'sms',
        input: 'just text',
        status: 'scheduled',
        runAt: at(MINUTE),
        idempotencyKey: null,
        expireAt: null,
      });
      expect(answers[2]!.run).toMatchObject({ job: 'pdf', input: null, priority: -3 });
      // What was answered is what is stored.
      for (const answer of answers)
        expect(await getRun(store(), answer.run.id)).toEqual(answer.run);
    });

    it('inserts nothing for an empty list', async () => {
      expect(await store().runInsertMany({ now: BASE, runs: [] })).toEqual([]);
      expect((await store().runList({ limit: 10 })).runs).toEqual([]);
      expect((await store().eventBounds()).last).toBe(0);
    });

    it('a known idempotency key answers the existing run, not created; the others are inserted', async () => {
      const existing = await insertRun(store(), { idempotencyKey: 'order-1' });
      const runs = [
        manyRun({ idempotencyKey: 'order-0' }),
        manyRun({ idempotencyKey: 'order-1', input: { other: true } }),
        manyRun(),
      ];
      const answers = await store().runInsertMany({ now: at(MINUTE), runs });
      expect(answers.map((a) => [a.run.id, a.created])).toEqual([
        [runs[0]!.id, true],
        [existing.id, false],
        [runs[2]!.id, true],
      ]);
      expect(answers[1]!.run).toEqual(existing);
      const { runs: stored } = await store().runList({ limit: 10 });
      expect(stored.map((r) => r.id).sort()).toEqual(
        [existing.id, runs[0]!.id, runs[2]!.id].sort(),
      );
    });

    it('a key given twice in one call makes one run; the second answer is that run, not created', async () => {
      const runs = [
        manyRun({ idempotencyKey: 'twice', input: { n: 1 } }),
        manyRun({ idempotencyKey: 'once' }),
        manyRun({ idempotencyKey: 'twice', input: { n: 2 } }),
      ];
      const answers = await store().runInsertMany({ now: BASE, runs });
      expect(answers.map((a) => a.created)).toEqual([true, true, false]);
      expect(answers[2]!.run).toEqual(answers[0]!.run);
      expect(answers[0]!.run.input).toEqual({ n: 1 });
      expect((await store().runList({ limit: 10 })).runs).toHaveLength(2);
    });

    it('keys are scoped to the job and the principal within one call too', async () => {
      const runs = [
        manyRun({ idempotencyKey: 'k' }),
        manyRun({ idempotencyKey: 'k', job: 'sms' }),
        manyRun({ idempotencyKey: 'k', createdBy: 'bob' }),
      ];
      const answers = await store().runInsertMany({ now: BASE, runs });
      expect(answers.map((a) => a.created)).toEqual([true, true, true]);
      expect(new Set(answers.map((a) => a.run.id)).size).toBe(3);
      const again = await store().runInsertMany({
        now: at(1),
        runs: runs.map((r) => ({ ...r, id: newRunId() })),
      });
      expect(again.map((a) => [a.run.id, a.created])).toEqual(
        answers.map((a) => [a.run.id, false]),
      );
    });

    it('writes one run.created event per run it created, in the order given, none for known keys', async () => {
      await insertRun(store(), { idempotencyKey: 'known' });
      const before = (await store().eventBounds()).last;
      const runs = [
        manyRun({ job: 'a' }),
        manyRun({ idempotencyKey: 'known' }),
        manyRun({ job: 'b', runAt: at(MINUTE) }),
        manyRun({ job: 'c' }),
      ];
      await store().runInsertMany({ now: BASE, runs });
      const { events } = await store().eventList({ afterSeq: before, limit: 100 });
      expect(events.map((e) => [e.name, e.runId, e.job, e.status])).toEqual([
        ['run.created', runs[0]!.id, 'a', 'pending'],
        ['run.created', runs[2]!.id, 'b', 'scheduled'],
        ['run.created', runs[3]!.id, 'c', 'pending'],
      ]);
    });

    it('the runs are claimed like any others: by priority, due ones only', async () => {
      const runs = [
        manyRun({ priority: 1 }),
        manyRun({ priority: 5 }),
        manyRun({ priority: 9, runAt: at(MINUTE) }),
        manyRun({ priority: 3 }),
      ];
      await store().runInsertMany({ now: BASE, runs });
      const claimed = await store().runClaim(claimParams({ now: at(1), limit: 10 }));
      expect(claimed.map((r) => r.id)).toEqual([runs[1]!.id, runs[3]!.id, runs[0]!.id]);
    });

    it('a thousand runs in one call, each stored once', async () => {
      const runs = Array.from({ length: 1000 }, (_, i) =>
        manyRun({ input: { i }, idempotencyKey: i % 100 === 0 ? `k-${i}` : null }),
      );
      const answers = await store().runInsertMany({ now: BASE, runs });
      expect(answers.every((a, i) => a.created && a.run.id === runs[i]!.id)).toBe(true);
      expect(answers.map((a) => (a.run.input as { i: number }).i)).toEqual(runs.map((_, i) => i));
      expect(await store().runCount({ limit: 2000 })).toBe(1000);
    });
  });

  if (ctx.makeStorePair) {
    const makeStorePair = ctx.makeStorePair;
    describe('runInsertMany across two store instances', () => {
      const stores = useStorePair(makeStorePair);

      it('concurrent calls with the same keys make one run per key; every answer carries it', async () => {
        const [a, b] = stores();
        // Connections open, so that the calls below overlap rather than wait to connect.
        await Promise.all([a, b, a, b].map((store) => store.runCount({ limit: 1 })));
        const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
        // Half the calls give the keys in the opposite order: a store that inserted them as given
        // would deadlock. Each call also has a run without a key.
        const calls = [a, b, a, b].map((store, call) =>
          store.runInsertMany({
            now: BASE,
            runs: [...(call % 2 ? [...keys].reverse() : keys), null].map((key) =>
              manyRun({ idempotencyKey: key }),
            ),
          }),
        );
        const answers = (await Promise.all(calls)).flat();
        const byKey = new Map<string, { id: string; created: boolean }[]>();
        for (const { run, created } of answers) {
          if (run.idempotencyKey === null) continue;
          byKey.set(run.idempotencyKey, [
            ...(byKey.get(run.idempotencyKey) ?? []),
            { id: run.id, created },
          ]);
        }
        expect(byKey.size).toBe(keys.length);
        for (const [key, forKey] of byKey) {
          expect(forKey, key).toHaveLength(calls.length);
          expect(new Set(forKey.map((answer) => answer.id)).size, key).toBe(1);
          expect(
            forKey.filter((answer) => answer.created),
            key,
          ).toHaveLength(1);
        }
        const keyless = answers.filter((answer) => answer.run.idempotencyKey === null);
        expect(keyless.map((answer) => answer.created)).toEqual([true, true, true, true]);
        expect(await a.runCount({ limit: 10_000 })).toBe(keys.length + calls.length);
      });
    });
  }
}
