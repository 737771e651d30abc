import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/core/clock.js';
import type { Jobdeck } from '../../src/jobdeck.js';
import { defineJob, type JobDefinition } from '../../src/jobs/define.js';
import { admin, useInstances, type RuntimeConformanceContext } from './fixture.js';

/** Schedule slots inserted by instances on one database: one run per slot, catch-up, disabling. */
export function describeSchedules(ctx: RuntimeConformanceContext): void {
  describe('schedule catch-up', () => {
    const instances = useInstances(ctx.makeDatabase);

    /** Instances without workers or timers of their own: the test drives ticks by hand. */
    async function schedulers(count: number, jobs: JobDefinition[], clock: TestClock) {
      const decks: Jobdeck[] = [];
      for (let i = 0; i < count; i++) {
        const deck = await instances().open(jobs, {
          clock,
          worker: false,
          scheduler: { tickMs: 3_600_000 },
          maintenance: { intervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
        });
        decks.push(deck);
      }
      return decks;
    }

    it('two schedulers on one database insert exactly one run per slot', async () => {
      const clock = new TestClock(Date.UTC(2030, 0, 1, 0, 0, 0, 400));
      const job = defineJob({ name: 'tick', schedule: { every: '1s' }, run: () => null });
      const [a, b] = await schedulers(2, [job], clock);
      for (let second = 0; second < 20; second++) {
        await Promise.all([a!.scheduler!.tick(), b!.scheduler!.tick()]);
        clock.advance(1000);
      }
      const { runs } = await a!.runs.list({ job: 'tick', limit: 500 });
      const slots = runs.map((r) => r.runAt.getTime()).sort();
      expect(runs).toHaveLength(20);
      expect(new Set(slots).size).toBe(20);
      expect(slots[0]).toBe(Date.UTC(2030, 0, 1, 0, 0, 1));
      expect(runs.every((r) => r.trigger === 'schedule' && r.createdBy === 'system')).toBe(true);
    });

    it('a late tick inserts the slots it would have skipped', async () => {
      const clock = new TestClock(Date.UTC(2030, 0, 1, 0, 0, 0, 400));
      const job = defineJob({ name: 'drift', schedule: { every: '1s' }, run: () => null });
      const [a] = await schedulers(1, [job], clock);
      await a!.scheduler!.tick();
      clock.advance(2_200); // the next tick comes 2.2 s later: slots 2 and 3 are both due by now
      await a!.scheduler!.tick();
      const { runs } = await a!.runs.list({ job: 'drift' });
      // The slot missed by the late tick is due already and starts now; its key names its slot.
      const slots = runs.map((r) => r.idempotencyKey).sort();
      expect(slots).toEqual([1, 2, 3].map((n) => `schedule:2030-01-01T00:00:0${n}.000Z`));
    });

    /** The slots of the job's runs, in order, as ISO times; each run's runAt is its slot. */
    async function slotsOf(deck: Jobdeck, job: string): Promise<string[]> {
      const { runs } = await deck.runs.list({ job, limit: 500 });
      for (const run of runs)
        expect(run.idempotencyKey).toBe(`schedule:${run.runAt.toISOString()}`);
      return runs.map((r) => r.runAt.toISOString()).sort();
    }
    const minute = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, n)).toISOString();

    it('a job enabled again after a while replays no stale slot and gets its next one', async () => {
      const clock = new TestClock(Date.UTC(2030, 0, 1, 0, 0, 30));
      const job = defineJob({ name: 'minutely', schedule: { every: '1m' }, run: () => null });
      const [a] = await schedulers(1, [job], clock);
      await a!.scheduler!.tick();
      await a!.runs.setEnabled('minutely', false, admin);
      for (let n = 0; n < 10; n++) {
        clock.advance(60_000);
        await a!.scheduler!.tick();
      }
      await a!.runs.setEnabled('minutely', true, admin);
      await a!.scheduler!.tick(); // 00:10:30: the slots of 00:02 … 00:10 passed while it was disabled
      expect(await slotsOf(a!, 'minutely')).toEqual([minute(1), minute(11)]);
    });

    it('a scheduler many slots late catches up with one run, the latest missed slot, and keeps the next', async () => {
      const clock = new TestClock(Date.UTC(2030, 0, 1, 0, 0, 30));
      const job = defineJob({ name: 'stalled', schedule: { every: '1m' }, run: () => null });
      const [a] = await schedulers(1, [job], clock);
      await a!.scheduler!.tick();
      clock.advance(10 * 60_000); // 00:10:30: ten slots came and went without a tick
      await a!.scheduler!.tick();
      expect(await slotsOf(a!, 'stalled')).toEqual([minute(1), minute(10), minute(11)]);
      // And from then on one slot at a time.
      clock.advance(60_000);
      await a!.scheduler!.tick();
      expect(await slotsOf(a!, 'stalled')).toEqual([minute(1), minute(10), minute(11), minute(12)]);
    });

    it.each([
      ['1 ms before', -1, ['00:01', '00:02']],
      ['1 ms after', 1, ['00:01', '00:02', '00:03']],
    ])(
      'a tick %s a slot inserts runs due exactly at their slots',
      async (_, offsetMs, expected) => {
        const slot = Date.UTC(2030, 0, 1, 0, 0, 2);
        // Ticks 1 ms before the previous slot, then 1 ms before or after this one (1 ms late).
        const clock = new TestClock(slot - 1000 - 1);
        const job = defineJob({ name: 'grid', schedule: { every: '1s' }, run: () => null });
        const [a] = await schedulers(1, [job], clock);
        await a!.scheduler!.tick();
        clock.set(slot + offsetMs);
        await a!.scheduler!.tick();
        expect(await slotsOf(a!, 'grid')).toEqual(
          expected.map((mmss) => `2030-01-01T00:${mmss}.000Z`),
        );
      },
    );

    it('a disabled job gets no new slots', async () => {
      const clock = new TestClock(Date.UTC(2030, 0, 1));
      const job = defineJob({ name: 'hourly', schedule: { every: '1h' }, run: () => null });
      const [a] = await schedulers(1, [job], clock);
      await a!.scheduler!.tick();
      expect((await a!.runs.list({ job: 'hourly' })).runs).toHaveLength(1);
      await a!.runs.setEnabled('hourly', false, admin);
      clock.advance(3_600_000);
      await a!.scheduler!.tick();
      const { runs } = await a!.runs.list({ job: 'hourly' });
      expect(runs).toHaveLength(1); // only the slot inserted at start, before it was disabled
    });
  });
}
