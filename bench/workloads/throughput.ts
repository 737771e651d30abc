import { createAdapter } from '../adapters/index.js';
import type { ResultRow, WorkloadContext } from '../lib/results.js';
import { sleep, summarize } from '../lib/stats.js';
import { repeat, withAdapter } from './common.js';

/**
 * Workload 2: N no-op runs already queued; a worker at concurrency 1 and 16 (and each peer's
 * batched mode) → runs/s from the first handler start until the system reports all N finished.
 */
export async function throughputWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const n = ctx.sizes.throughputN;
  const capMs = ctx.sizes.throughputCapMs;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    const probe = createAdapter({ system, namespace: 'probe', dir: ctx.dir });
    const modes = [false, ...(probe.batchedMode ? [true] : [])];
    for (const batched of modes) {
      for (const concurrency of [1, 16]) {
        const variant = `c${concurrency}${batched ? ' batched' : ''}`;
        ctx.log(`throughput: ${system} ${variant} (${n} runs queued)`);
        const capped: number[] = [];
        const values = await repeat(ctx, `${system} ${variant} runs/s`, (index) =>
          withAdapter(ctx, system, 'thr', async (adapter) => {
            const payloads = Array.from({ length: n }, (_, i) => ({ i }));
            await (adapter.seed ? adapter.seed(payloads) : adapter.enqueueBulk(payloads));
            let first = 0;
            let handled = 0;
            const worker = await adapter.startWorker({
              concurrency,
              batched,
              handler: () => {
                if (handled++ === 0) first = performance.now();
              },
            });
            const deadline = performance.now() + capMs + 2000;
            let finished = 0;
            let end = 0;
            try {
              // Handlers are counted in memory; completion is what the system reports (polled).
              while (performance.now() < deadline) {
                if (handled >= n || (first && performance.now() - first > capMs)) {
                  const left = await adapter.unfinished();
                  if (left === 0 || (first && performance.now() - first > capMs)) {
                    end = performance.now();
                    finished = n - left;
                    break;
                  }
                }
                await sleep(handled >= n ? 5 : 20);
              }
              if (!end) {
                end = performance.now();
                finished = n - (await adapter.unfinished());
              }
            } finally {
              await worker.stop();
            }
            if (finished < n) capped.push(index + 1);
            if (!first) return 0;
            return (finished / (end - first)) * 1000;
          }),
        );
        rows.push({
          workload: 'throughput',
          system,
          variant,
          compareKey: `throughput c${concurrency}`,
          metric: 'throughput',
          unit: 'runs/s',
          better: 'higher',
          summary: summarize(values),
          ...(capped.length
            ? {
                note: `repeat(s) ${capped.join(', ')} hit the ${capMs / 1000} s cap: finished runs / elapsed`,
              }
            : {}),
        });
      }
    }
  }
  return rows;
}
