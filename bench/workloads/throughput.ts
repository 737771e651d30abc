import { createAdapter } from '../adapters/index.js';
import type { SystemName } from '../adapters/types.js';
import type { ResultRow, WorkloadContext } from '../lib/results.js';
import { sleep, summarize } from '../lib/stats.js';
import { withAdapter } from './common.js';

/**
 * Workload 2: N no-op runs already queued; a worker at concurrency 1 and 16 (and each system's
 * batched mode) → runs/s from the first handler start until the system reports all N finished.
 * Jobdeck on PostgreSQL also runs c16 with its event feed's triggers off: what the feed costs.
 */
interface Trial {
  batched: boolean;
  concurrency: number;
  /** Jobdeck/PostgreSQL with its event feed's triggers off. */
  withoutFeed?: boolean;
}

export async function throughputWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const n = ctx.sizes.throughputN;
  const capMs = ctx.sizes.throughputCapMs;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    const probe = createAdapter({ system, namespace: 'probe', dir: ctx.dir });
    // Trials of one group take turns repeat by repeat, so that the machine's drift falls on both.
    const groups: Trial[][] = [];
    for (const batched of [false, ...(probe.batchedMode ? [true] : [])]) {
      groups.push([{ batched, concurrency: 1 }]);
      // What the event feed costs: c16, and the same with the feed's triggers off.
      groups.push(
        !batched && probe.withoutEventFeed
          ? [
              { batched, concurrency: 16 },
              { batched, concurrency: 16, withoutFeed: true },
            ]
          : [{ batched, concurrency: 16 }],
      );
    }
    for (const group of groups) {
      const label = (t: Trial) =>
        `c${t.concurrency}${t.batched ? ' batched' : ''}${t.withoutFeed ? ', no event feed' : ''}`;
      ctx.log(`throughput: ${system} ${group.map(label).join(' / ')} (${n} runs queued)`);
      const values = group.map(() => [] as number[]);
      const capped = group.map(() => [] as number[]);
      for (let index = 0; index < ctx.repeats; index++) {
        for (const [k, trial] of group.entries()) {
          let value = Number.NaN;
          try {
            const result = await runTrial(ctx, system, trial, n, capMs);
            value = result.runsPerS;
            if (!result.finishedAll) capped[k]!.push(index + 1);
          } catch (err) {
            ctx.log(`  ${system} ${label(trial)} #${index + 1}: FAILED ${(err as Error).stack}`);
          }
          ctx.log(`  ${system} ${label(trial)} runs/s #${index + 1}: ${value.toFixed(2)}`);
          values[k]!.push(value);
        }
      }
      for (const [k, trial] of group.entries()) {
        rows.push({
          workload: 'throughput',
          system,
          variant: label(trial),
          // The trial without the feed is compared with nothing: it shows what the feed costs.
          compareKey: `throughput c${trial.concurrency}${trial.withoutFeed ? ' without feed' : ''}`,
          metric: 'throughput',
          unit: 'runs/s',
          better: 'higher',
          summary: summarize(values[k]!),
          ...(capped[k]!.length
            ? {
                note: `repeat(s) ${capped[k]!.join(', ')} hit the ${capMs / 1000} s cap: finished runs / elapsed`,
              }
            : {}),
        });
      }
    }
  }
  return rows;
}

/** One trial: queue n runs (untimed), start a worker, and time until the system reports all finished. */
async function runTrial(
  ctx: WorkloadContext,
  system: SystemName,
  { batched, concurrency, withoutFeed }: Trial,
  n: number,
  capMs: number,
): Promise<{ runsPerS: number; finishedAll: boolean }> {
  return withAdapter(ctx, system, 'thr', async (adapter) => {
    const payloads = Array.from({ length: n }, (_, i) => ({ i }));
    await (adapter.seed ? adapter.seed(payloads) : adapter.enqueueBulk(payloads));
    if (withoutFeed) await adapter.withoutEventFeed!();
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
    return {
      runsPerS: first ? (finished / (end - first)) * 1000 : 0,
      finishedAll: finished >= n,
    };
  });
}
