import { createAdapter } from '../adapters/index.js';
import { JOBDECK_SYSTEMS, type Payload } from '../adapters/types.js';
import { BenchChild } from '../lib/child-process.js';
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
 * start. Producer `same`: the client in the worker's own instance; `separate`: a client in another
 * process on the same host (bench/child.ts), timed by its wall clock just before the create call.
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
      const variant = `${producer === 'same' ? 'same instance' : 'another process'}${batched ? ', batched' : ''}`;
      ctx.log(`latency: ${system} ${variant} (${n} runs, 10 ms apart)`);
      const perRepeat: LatencySummary[] = [];
      let lost = 0;
      await repeat(ctx, `${system} ${variant} p50 ms`, () =>
        withAdapter(ctx, system, 'lat', async (adapter, ns) => {
          let child: BenchChild | null = null;
          let seq = 0;
          /** Create a run: here, or in the other process; the wall clock just before the call. */
          const create = async (data: Payload): Promise<number> => {
            if (!child) {
              const t0 = epochMs();
              await adapter.enqueue(data);
              return t0;
            }
            const mine = ++seq;
            child.send({ type: 'enqueue', seq: mine, data });
            const reply = await child.next((m) => m.type === 'enqueued' && m.seq === mine, 10_000);
            if (!reply || reply.error)
              throw new Error(`the other process did not create: ${String(reply?.error)}`);
            return reply.t0 as number;
          };
          if (producer === 'separate') {
            child = new BenchChild({
              role: 'client',
              config: { system, namespace: ns, dir: ctx.dir },
            });
            await child.ready();
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
              await create({ i: -1 - i });
              await sleep(10);
            }
            await waitFor(() => started.size >= warmup, 5000);
            const t0 = performance.now();
            for (let i = 0; i < n; i++) {
              const wait = t0 + i * 10 - performance.now();
              if (wait > 0) await sleep(wait);
              created[i] = await create({ i });
            }
            await waitFor(() => started.size >= warmup + n, LATE_MS, 10);
          } finally {
            await worker.stop();
            await child?.close();
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
