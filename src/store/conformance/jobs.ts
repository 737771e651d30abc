import { describe, expect, it } from 'vitest';
import { at, useStore, type ConformanceContext } from './fixture.js';

/** The run-time enabled flag of jobs. */
export function describeJobs(ctx: ConformanceContext): void {
  describe('job state', () => {
    const store = useStore(ctx.makeStore);

    it('jobStateList is empty in a fresh store', async () => {
      expect(await store().jobStateList()).toEqual([]);
    });

    it('jobStateSet creates and updates the flag; jobStateList lists every job by name', async () => {
      expect(await store().jobStateSet({ name: 'sms', enabled: false, now: at(1) })).toEqual({
        name: 'sms',
        enabled: false,
        updatedAt: at(1),
      });
      await store().jobStateSet({ name: 'email', enabled: true, now: at(2) });
      expect(await store().jobStateList()).toEqual([
        { name: 'email', enabled: true, updatedAt: at(2) },
        { name: 'sms', enabled: false, updatedAt: at(1) },
      ]);
      expect(await store().jobStateSet({ name: 'sms', enabled: true, now: at(3) })).toEqual({
        name: 'sms',
        enabled: true,
        updatedAt: at(3),
      });
      await store().jobStateSet({ name: 'email', enabled: false, now: at(4) });
      expect(await store().jobStateList()).toEqual([
        { name: 'email', enabled: false, updatedAt: at(4) },
        { name: 'sms', enabled: true, updatedAt: at(3) },
      ]);
    });
  });
}
