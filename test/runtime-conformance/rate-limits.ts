import { describe, expect, it } from 'vitest';
import { defineJob } from '../../src/jobs/define.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { FAST_WORKER, operator, useInstances, type RuntimeConformanceContext } from './fixture.js';

const MAX = 10;
const PER_MS = 1000;
const RUNS = 300;

/**
 * A job's rate limit holds across instances: three workers (one prefetching) claim runs of a job
 * limited to 10 per second, and no 1 s window holds more than 10 starts.
 */
export function describeRateLimits(ctx: RuntimeConformanceContext): void {
  describe('rate limits', { timeout: 3 * EVENT_DEADLINE_MS }, () => {
    const instances = useInstances(ctx.makeDatabase);

    it(`rateLimit { max: ${MAX}, per: '1s' } with three instances claiming: never more than ${MAX} starts in any 1 s window`, async () => {
      const handled: string[] = [];
      const limited = defineJob({
        name: 'limited.ping',
        rateLimit: { max: MAX, per: '1s' },
        run(ctx) {
          handled.push(ctx.run.id);
        },
      });
      const decks = [
        await instances().open([limited], { worker: { ...FAST_WORKER, concurrency: 4 } }),
        await instances().open([limited], { worker: { ...FAST_WORKER, concurrency: 4 } }),
        await instances().open([limited], {
          worker: { ...FAST_WORKER, concurrency: 4, prefetch: 8 },
        }),
      ];
      const created = await decks[0]!.runs.createMany(
        Array.from({ length: RUNS }, () => ({ job: limited.name, input: {} })),
        { principal: operator },
      );
      const ids = created.map((result) => ('run' in result ? result.run.id : result.error.message));
      expect(ids.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
      // At 10 a second the 300 runs take 30 s; a slow machine only makes it longer.
      await pollUntil(
        async () =>
          (await decks[0]!.runs.count({ job: limited.name, status: ['completed'] })).total === RUNS,
        {
          what: `${RUNS} runs to complete`,
          timeoutMs: 3 * EVENT_DEADLINE_MS - 30_000,
          intervalMs: 250,
        },
      );
      const starts = (await Promise.all(ids.map((id) => decks[0]!.runs.get(id))))
        .map((run) => run.startedAt!.getTime())
        .sort((a, b) => a - b);
      // The 11th start after any start is more than a window later: no window holds 11.
      const crowded = starts.flatMap((at, i) =>
        i + MAX < starts.length && starts[i + MAX]! - at <= PER_MS ? [[at, starts[i + MAX]]] : [],
      );
      expect(crowded).toEqual([]);
      expect(starts.at(-1)! - starts[0]!).toBeGreaterThan((RUNS / MAX - 1) * PER_MS);
      expect(new Set(handled).size).toBe(RUNS);
      expect(handled).toHaveLength(RUNS);
    });
  });
}
