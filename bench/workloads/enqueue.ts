import type { ResultRow, WorkloadContext } from '../lib/results.js';
import { summarize } from '../lib/stats.js';
import { repeat, withAdapter } from './common.js';

const BULK_CALL = 2000;

/** Workload 1: N runs enqueued one by one (each awaited), and N in bulk → runs/s. */
export async function enqueueWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const n = ctx.sizes.enqueueN;
  const capMs = ctx.sizes.enqueueCapMs;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    ctx.log(`enqueue: ${system} (${n} runs)`);
    let capped = 0;
    let bulkCapped = 0;
    let bulkNote = '';
    const single = await repeat(ctx, `${system} one-by-one runs/s`, () =>
      withAdapter(ctx, system, 'enq', async (adapter) => {
        const started = performance.now();
        let done = 0;
        for (; done < n; done++) {
          await adapter.enqueue({ i: done });
          if ((done & 63) === 0 && performance.now() - started > capMs) {
            capped++;
            break;
          }
        }
        return (done / (performance.now() - started)) * 1000;
      }),
    );
    const bulk = await repeat(ctx, `${system} bulk runs/s`, () =>
      withAdapter(ctx, system, 'enqb', async (adapter) => {
        bulkNote = adapter.bulkNote;
        const started = performance.now();
        let done = 0;
        // Bulk calls of BULK_CALL runs; the cap is checked between calls.
        while (done < n) {
          const size = Math.min(BULK_CALL, n - done);
          await adapter.enqueueBulk(Array.from({ length: size }, (_, i) => ({ i: done + i })));
          done += size;
          if (done < n && performance.now() - started > capMs) {
            bulkCapped++;
            break;
          }
        }
        return (done / (performance.now() - started)) * 1000;
      }),
    );
    const base = {
      workload: 'enqueue' as const,
      system,
      unit: 'runs/s',
      better: 'higher' as const,
    };
    rows.push({
      ...base,
      variant: 'one by one',
      compareKey: 'enqueue one by one',
      metric: 'enqueue rate',
      summary: summarize(single),
      ...(capped
        ? { note: `${capped} repeat(s) hit the ${capMs / 1000} s cap; rate over what was done` }
        : {}),
    });
    rows.push({
      ...base,
      variant: 'bulk',
      compareKey: 'enqueue bulk',
      metric: 'enqueue rate',
      summary: summarize(bulk),
      note: [
        `calls of ${BULK_CALL} runs: ${bulkNote}`,
        ...(bulkCapped
          ? [`${bulkCapped} repeat(s) hit the ${capMs / 1000} s cap; rate over what was done`]
          : []),
      ].join('; '),
    });
  }
  return rows;
}
