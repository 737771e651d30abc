import { createAdapter } from '../adapters/index.js';
import { JOBDECK_SYSTEMS, type Adapter } from '../adapters/types.js';
import type { ResultRow, WorkloadContext } from '../lib/results.js';
import {
  epochMs,
  latencySummary,
  sleep,
  summarize,
  waitFor,
  type LatencySummary,
} from '../lib/stats.js';
import { repeat, withAdapter } from './common.js';

/**
 * Workload 3: an idle worker; runs created one at a time, 10 ms apart → create call → handler
 * start. Producer `same`: the client in the worker's own instance; `separate`: a second client
 * instance (its own connections) in the same process.
 */
/** How long after the last create the workload waits for the last handler start. */
const LATE_MS = 15_000;

export async function latencyWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const n = ctx.sizes.latencyN;
  const warmup = ctx.sizes.latencyWarmup;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    const probe = createAdapter({ system, namespace: 'probe', dir: ctx.dir });
    // Jobdeck: from the worker's own instance and from a second one; peers: their plain and
    // batched worker modes (pg-boss takes one job per loop and poll without batches).
    const variants: { producer: 'same' | 'separate'; batched: boolean }[] =
      JOBDECK_SYSTEMS.includes(system)
        ? [
            { producer: 'same', batched: false },
            { producer: 'separate', batched: false },
          ]
        : [
            { producer: 'same', batched: false },
            ...(probe.batchedMode ? [{ producer: 'same' as const, batched: true }] : []),
          ];
    for (const { producer, batched } of variants) {
      const variant = `${producer === 'same' ? 'same instance' : 'separate client'}${batched ? ', batched' : ''}`;
      ctx.log(`latency: ${system} ${variant} (${n} runs, 10 ms apart)`);
      const perRepeat: LatencySummary[] = [];
      let lost = 0;
      await repeat(ctx, `${system} ${variant} p50 ms`, () =>
        withAdapter(ctx, system, 'lat', async (adapter, ns) => {
          let client: Adapter = adapter;
          if (producer === 'separate') {
            client = createAdapter({ system, namespace: ns, dir: ctx.dir });
            await client.setup({ fresh: false });
          }
          const started = new Map<number, number>();
          const worker = await adapter.startWorker({
            concurrency: 16,
            batched,
            handler: ({ data }) => {
              started.set(data.i, epochMs());
            },
          });
          const created: number[] = [];
          try {
            // Warm-up (connections, prepared statements), not measured.
            for (let i = 0; i < warmup; i++) {
              await client.enqueue({ i: -1 - i });
              await sleep(10);
            }
            await waitFor(() => started.size >= warmup, 5000);
            const t0 = performance.now();
            for (let i = 0; i < n; i++) {
              const wait = t0 + i * 10 - performance.now();
              if (wait > 0) await sleep(wait);
              created[i] = epochMs();
              await client.enqueue({ i });
            }
            await waitFor(() => started.size >= warmup + n, LATE_MS, 10);
          } finally {
            await worker.stop();
            if (client !== adapter) await client.teardown({ drop: false });
          }
          const samples: number[] = [];
          for (let i = 0; i < n; i++) {
            const s = started.get(i);
            // A run that never started counts as infinitely late: the percentiles it reaches say so.
            if (s === undefined) lost++;
            samples.push(s === undefined ? Number.POSITIVE_INFINITY : s - created[i]!);
          }
          const summary = latencySummary(samples);
          perRepeat.push(summary);
          return summary.p50;
        }),
      );
      const base = {
        workload: 'latency' as const,
        system,
        variant,
        compareKey: 'latency',
        unit: 'ms',
        better: 'lower' as const,
        ...(lost
          ? {
              note: `${lost} run(s) over all repeats not started within ${LATE_MS / 1000} s of the last create (counted as infinitely late)`,
            }
          : {}),
      };
      for (const key of ['p50', 'p95', 'p99', 'max'] as const) {
        rows.push({
          ...base,
          metric: `pickup ${key}`,
          summary: summarize(perRepeat.map((s) => s[key])),
        });
      }
    }
  }
  return rows;
}
