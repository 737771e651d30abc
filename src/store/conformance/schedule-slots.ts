import { describe, expect, it } from 'vitest';
import type { Store } from '../store.js';
import {
  HOUR,
  at,
  insertParams,
  useStore,
  useStorePair,
  type ConformanceContext,
} from './fixture.js';

/** The idempotency key the scheduler gives the run of one slot. */
function slotKey(slot: Date): string {
  return `schedule:${slot.toISOString()}`;
}

/** Insert the run of `slot` for job `job`, as the scheduler of any instance does. */
function insertSlot(store: Store, slot: Date, job = 'report') {
  return store.runInsert(
    insertParams({
      job,
      trigger: 'schedule',
      createdBy: 'scheduler',
      idempotencyKey: slotKey(slot),
      runAt: slot,
      now: slot,
    }),
  );
}

/** Exactly one run per schedule slot, however many schedulers insert it. */
export function describeScheduleSlots(ctx: ConformanceContext): void {
  describe('schedule slots', () => {
    const store = useStore(ctx.makeStore);

    it('the same slot inserted twice gives one run', async () => {
      const first = await insertSlot(store(), at(HOUR));
      const second = await insertSlot(store(), at(HOUR));
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.run.id).toBe(first.run.id);
      expect(first.run).toMatchObject({
        trigger: 'schedule',
        idempotencyKey: 'schedule:2030-01-01T01:00:00.000Z',
      });
      expect((await store().runList({ job: 'report', limit: 10 })).runs).toHaveLength(1);
    });

    it('each slot gets its own run, and slot keys are per job', async () => {
      const slots = [at(HOUR), at(2 * HOUR), at(3 * HOUR)];
      for (const slot of slots) {
        await insertSlot(store(), slot);
        await insertSlot(store(), slot, 'cleanup');
      }
      const report = await store().runList({ job: 'report', limit: 10 });
      const cleanup = await store().runList({ job: 'cleanup', limit: 10 });
      expect(report.runs.map((r) => r.idempotencyKey).sort()).toEqual(slots.map(slotKey));
      expect(cleanup.runs.map((r) => r.idempotencyKey).sort()).toEqual(slots.map(slotKey));
    });
  });

  const makeStorePair = ctx.makeStorePair;
  if (makeStorePair) {
    describe('schedule slots across two store instances', () => {
      const stores = useStorePair(makeStorePair);

      it('two instances inserting the same slots give one run per slot', async () => {
        const [one, two] = stores();
        const slots = Array.from({ length: 10 }, (_, i) => at(i * HOUR));
        const results = await Promise.all(
          slots.flatMap((slot) => [insertSlot(one, slot), insertSlot(two, slot)]),
        );
        for (let i = 0; i < slots.length; i++) {
          const [a, b] = [results[2 * i]!, results[2 * i + 1]!];
          expect(a.run.id).toBe(b.run.id);
          expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
        }
        for (const store of [one, two]) {
          const { runs } = await store.runList({ job: 'report', limit: 100 });
          expect(runs).toHaveLength(slots.length);
          expect(new Set(runs.map((r) => r.idempotencyKey))).toEqual(new Set(slots.map(slotKey)));
        }
      });
    });
  }
}
