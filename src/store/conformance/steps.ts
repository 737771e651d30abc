import { describe, expect, it } from 'vitest';
import type { StoredStep } from '../../core/run.js';
import {
  DAY,
  LEASE_MS,
  at,
  claimParams,
  expectErrorCode,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

/** A step as an attempt records it. */
function step(
  name: string,
  status: StoredStep['status'],
  attempt: number,
  extra: Partial<StoredStep> = {},
): StoredStep {
  return {
    name,
    status,
    attempt,
    startedAt: at(10),
    endedAt: status === 'running' ? null : at(20),
    error: null,
    result: null,
    ...extra,
  };
}

/** A step as an event shows it: without its result. */
function stepView({ result: _result, ...rest }: StoredStep) {
  return rest;
}

/** Durable steps: what each attempt records, fenced, and what later attempts find. */
export function describeSteps(ctx: ConformanceContext): void {
  describe('steps', () => {
    const store = useStore(ctx.makeStore);

    it('stepSave records steps in the order they first started; a save updates a step in place', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      await store().stepSave({ ref, step: step('fetch', 'running', 1) });
      await store().stepSave({ ref, step: step('parse', 'running', 1) });
      await store().stepSave({
        ref,
        step: step('fetch', 'completed', 1, { result: { rows: [1, 2], note: 'ünï' } }),
      });
      await store().stepSave({
        ref,
        step: step('parse', 'failed', 1, { error: { code: 'HANDLER_ERROR', message: 'bad' } }),
      });
      expect(await store().stepList({ runId: run.id })).toEqual([
        step('fetch', 'completed', 1, { result: { rows: [1, 2], note: 'ünï' } }),
        step('parse', 'failed', 1, { error: { code: 'HANDLER_ERROR', message: 'bad' } }),
      ]);
      expect(await store().stepList({ runId: 'no-such-run' })).toEqual([]);
    });

    it('each step write is a run.step event with the step (not its result); refused and no-op writes are none', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      const before = await store().eventBounds();
      await store().stepSave({ ref, step: step('fetch', 'running', 1) });
      await store().stepSave({ ref, step: step('fetch', 'completed', 1, { result: 'secret' }) });
      await store().stepSave({
        ref,
        step: step('parse', 'failed', 1, { error: { code: 'HANDLER_ERROR', message: 'bad' } }),
      });
      // A completed step is final, and a lost attempt writes nothing: neither is an event.
      await store().stepSave({ ref, step: step('fetch', 'running', 1) });
      await expectErrorCode(
        store().stepSave({ ref: { ...ref, workerId: 'other' }, step: step('x', 'running', 1) }),
        'LEASE_LOST',
      );
      const { events } = await store().eventList({ afterSeq: before.last, limit: 100 });
      const steps = events.filter((e) => e.name === 'run.step');
      expect(events.filter((e) => e.name !== 'run.step')).toEqual([]);
      expect(
        steps.map((e) => [e.runId, e.job, e.status, e.attempt, 'step' in e ? e.step : null]),
      ).toEqual([
        [run.id, run.job, 'running', 1, stepView(step('fetch', 'running', 1))],
        [run.id, run.job, 'running', 1, stepView(step('fetch', 'completed', 1))],
        [
          run.id,
          run.job,
          'running',
          1,
          stepView(
            step('parse', 'failed', 1, { error: { code: 'HANDLER_ERROR', message: 'bad' } }),
          ),
        ],
      ]);
    });

    it('stepList with last gives the newest steps, still in the order they first started', async () => {
      const run = await startRun(store());
      for (const name of ['a', 'b', 'c', 'd'])
        await store().stepSave({ ref: refOf(run), step: step(name, 'completed', 1) });
      const names = async (last?: number) =>
        (await store().stepList({ runId: run.id, ...(last === undefined ? {} : { last }) })).map(
          (s) => s.name,
        );
      expect(await names(2)).toEqual(['c', 'd']);
      expect(await names(10)).toEqual(['a', 'b', 'c', 'd']);
      expect(await names()).toEqual(['a', 'b', 'c', 'd']);
    });

    it('a result of any JSON kind comes back as it was saved', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      const results: unknown[] = ['text', 42, true, null, [1, 'a'], { nested: { x: 1 } }];
      for (const [index, result] of results.entries())
        await store().stepSave({ ref, step: step(`s${index}`, 'completed', 1, { result }) });
      expect((await store().stepList({ runId: run.id })).map((s) => s.result)).toEqual(results);
    });

    it('stepSave is fenced: another worker or an old attempt gets LEASE_LOST and writes nothing', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      await expectErrorCode(
        store().stepSave({ ref: { ...ref, workerId: 'other' }, step: step('a', 'running', 1) }),
        'LEASE_LOST',
      );
      await expectErrorCode(
        store().stepSave({ ref: { ...ref, attempt: 2 }, step: step('a', 'running', 2) }),
        'LEASE_LOST',
      );
      expect(await store().stepList({ runId: run.id })).toEqual([]);
    });

    it('steps belong to the run: a later attempt finds them, and a completed step stays as it was', async () => {
      const run = await startRun(store(), { insert: { maxAttempts: 3 } });
      await store().stepSave({
        ref: refOf(run),
        step: step('one', 'completed', 1, { result: 'first' }),
      });
      await store().stepSave({ ref: refOf(run), step: step('two', 'running', 1) });
      // The worker dies; the rescuer gives the run another attempt, which another worker claims.
      await store().runRescueExpired({ now: at(LEASE_MS + 1) });
      const [again] = await store().runClaim(
        claimParams({
          workerId: 'w2',
          now: at(LEASE_MS + 2),
          jobs: [{ name: run.job, concurrency: null }],
        }),
      );
      expect(again).toMatchObject({ id: run.id, attempt: 2 });
      const ref = refOf(again!);
      await store().stepSave({ ref, step: step('one', 'completed', 2, { result: 'second' }) });
      await store().stepSave({ ref, step: step('two', 'completed', 2, { result: 'done' }) });
      expect(await store().stepList({ runId: run.id })).toEqual([
        step('one', 'completed', 1, { result: 'first' }),
        step('two', 'completed', 2, { result: 'done' }),
      ]);
    });

    it('steps go with their run when retention deletes it', async () => {
      const run = await startRun(store(), { insert: { retentionMs: DAY } });
      await store().stepSave({ ref: refOf(run), step: step('one', 'completed', 1, { result: 1 }) });
      await store().runCompleteMany({ now: at(30), runs: [{ ref: refOf(run), result: 'ok' }] });
      expect(await store().runDeleteFinished({ now: at(30 + DAY + 1), limit: 10 })).toBe(1);
      expect(await store().stepList({ runId: run.id })).toEqual([]);
    });
  });
}
