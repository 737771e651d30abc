import { describe, expect, it } from 'vitest';
import {
  at,
  claimParams,
  getRun,
  refOf,
  startRun,
  useStore,
  type ConformanceContext,
} from './fixture.js';

/** Items of a fan-out: upsert order, updates, and what finishing a run does to them. */
export function describeItems(ctx: ConformanceContext): void {
  describe('items', () => {
    const store = useStore(ctx.makeStore);

    it('itemsUpsert creates items in first-seen order and updates them in place', async () => {
      const run = await startRun(store());
      const ref = refOf(run);
      await store().itemsUpsert({
        ref,
        items: [
          { key: 'node-3', status: 'pending' },
          { key: 'node-1', status: 'pending' },
        ],
      });
      await store().itemsUpsert({
        ref,
        items: [
          { key: 'node-2', status: 'running' },
          { key: 'node-3', status: 'succeeded' },
        ],
      });
      await store().itemsUpsert({
        ref,
        items: [
          { key: 'node-1', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'down' } },
        ],
      });
      expect((await getRun(store(), run.id)).items).toEqual([
        { key: 'node-3', status: 'succeeded' },
        { key: 'node-1', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'down' } },
        { key: 'node-2', status: 'running' },
      ]);
    });

    it('a new attempt keeps the items that succeeded; the others are cleared at claim', async () => {
      const run = await startRun(store());
      await store().itemsUpsert({
        ref: refOf(run),
        items: [
          { key: 'a', status: 'succeeded' },
          { key: 'b', status: 'failed', error: { code: 'HANDLER_ERROR', message: 'b' } },
          { key: 'c', status: 'running' },
          { key: 'd', status: 'pending' },
        ],
      });
      await store().runFinishIfAttempt({
        ref: refOf(run),
        now: at(1),
        outcome: {
          status: 'scheduled',
          runAt: at(2),
          error: { code: 'HANDLER_ERROR', message: 'x' },
        },
      });
      for (const jobs of [
        [{ name: 'email', concurrency: null }],
        [{ name: 'email', concurrency: 5 }],
      ]) {
        const [again] = await store().runClaim(claimParams({ now: at(2), jobs }));
        expect(again).toMatchObject({ id: run.id });
        expect((await getRun(store(), run.id)).items).toEqual([{ key: 'a', status: 'succeeded' }]);
        // Back for the next claimer, the other way: both claim paths keep them.
        await store().itemsUpsert({ ref: refOf(again!), items: [{ key: 'e', status: 'failed' }] });
        await store().runFinishIfAttempt({
          ref: refOf(again!),
          now: at(3),
          outcome: {
            status: 'scheduled',
            runAt: at(2),
            error: { code: 'HANDLER_ERROR', message: 'x' },
          },
        });
      }
    });

    it('items of one run are not seen on another', async () => {
      const a = await startRun(store());
      const b = await startRun(store());
      await store().itemsUpsert({ ref: refOf(a), items: [{ key: 'x', status: 'succeeded' }] });
      await store().itemsUpsert({ ref: refOf(b), items: [{ key: 'x', status: 'failed' }] });
      expect((await getRun(store(), a.id)).items).toEqual([{ key: 'x', status: 'succeeded' }]);
      expect((await getRun(store(), b.id)).items).toEqual([{ key: 'x', status: 'failed' }]);
      const { runs } = await store().runList({ ids: [a.id, b.id], limit: 10 });
      expect(Object.fromEntries(runs.map((r) => [r.id, r.items]))).toEqual({
        [a.id]: [{ key: 'x', status: 'succeeded' }],
        [b.id]: [{ key: 'x', status: 'failed' }],
      });
    });

    it('finishing a run cancels its unfinished items and keeps the others', async () => {
      for (const status of ['completed', 'partial', 'failed'] as const) {
        const run = await startRun(store());
        await store().itemsUpsert({
          ref: refOf(run),
          items: [
            { key: 'a', status: 'succeeded' },
            { key: 'b', status: 'running' },
            { key: 'c', status: 'pending' },
            { key: 'd', status: 'failed' },
          ],
        });
        const outcome =
          status === 'failed'
            ? { status, error: { code: 'ITEMS_FAILED', message: 'x' } }
            : { status, result: null };
        const finished = await store().runFinishIfAttempt({ ref: refOf(run), now: at(9), outcome });
        expect(finished.status).toBe(status);
        expect(finished.items.map((i) => i.status)).toEqual([
          'succeeded',
          'cancelled',
          'cancelled',
          'failed',
        ]);
        expect((await getRun(store(), run.id)).items).toEqual(finished.items);
      }
    });
  });
}
