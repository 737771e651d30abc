import type { Adapter, CancelOutcome, Payload, SystemName } from '../adapters/types.js';
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

const LONG_MS = 30_000;
/** Jobdeck's default cancel poll period (the slowest delivery path measured). */
const PHASE_JITTER_MS = 250;

interface Trial {
  id: string;
  startedAt: number;
  abortedAt: number | null;
}

/** Worker state shared by the trials of one repeat: which runs started, which saw their abort. */
class Tracker {
  readonly trials = new Map<string, Trial>();
  handler = ({ id, data, signal }: { id: string; data: Payload; signal: AbortSignal | null }) => {
    const trial: Trial = { id, startedAt: epochMs(), abortedAt: null };
    this.trials.set(id, trial);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, data.ms ?? LONG_MS);
      const onAbort = () => {
        trial.abortedAt = epochMs();
        clearTimeout(timer);
        resolve();
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  };
}

type Canceller = (id: string) => Promise<{ t0: number; outcome: CancelOutcome }>;

/** One run: create it, wait for its handler, cancel it, wait for the abort. Null when not delivered. */
async function trial(
  adapter: Adapter,
  tracker: Tracker,
  cancel: Canceller,
  i: number,
  abortWaitMs: number,
  holdMs = LONG_MS,
): Promise<{ ms: number | null; outcome: CancelOutcome; id: string }> {
  const id = await adapter.enqueue({ i, ms: holdMs });
  if (!(await waitFor(() => tracker.trials.has(id), 10_000, 2)))
    throw new Error(`run ${id} never started`);
  const { t0, outcome } = await cancel(id);
  const trialState = tracker.trials.get(id)!;
  await waitFor(() => trialState.abortedAt !== null, abortWaitMs, 1);
  return { ms: trialState.abortedAt === null ? null : trialState.abortedAt - t0, outcome, id };
}

/**
 * Workload 4: a long run cancelled → the handler sees the abort. In-process (the worker's own
 * instance) where the system can, and from another process (bench/child.ts, a client instance on
 * the same database) — "unsupported", with what happened, where it cannot.
 */
export async function cancelWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const n = ctx.sizes.cancelN;
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    for (const where of ['in-process', 'cross-process'] as const) {
      ctx.log(`cancel: ${system} ${where}`);
      const row = await cancelVariant(ctx, system, where, n);
      if (row) rows.push(...row);
    }
  }
  return rows;
}

async function cancelVariant(
  ctx: WorkloadContext,
  system: SystemName,
  where: 'in-process' | 'cross-process',
  n: number,
): Promise<ResultRow[] | null> {
  const abortWaitMs = ctx.sizes.cancelAbortWaitMs;
  const holdMs = ctx.sizes.cancelUnsupportedHoldMs;
  const perRepeat: LatencySummary[] = [];
  let unsupported: string | null = null;
  let undelivered = 0;
  const base = {
    workload: 'cancel' as const,
    system,
    variant: where,
    compareKey: `cancel ${where}`,
    unit: 'ms',
    better: 'lower' as const,
  };
  await repeat(ctx, `${system} ${where} p50 ms`, async () => {
    if (unsupported) return Number.NaN;
    return withAdapter(ctx, system, 'cxl', async (adapter, ns) => {
      const support =
        where === 'in-process'
          ? adapter.cancelSupport.inProcess
          : adapter.cancelSupport.crossProcess;
      const tracker = new Tracker();
      const worker = await adapter.startWorker({ concurrency: 4, handler: tracker.handler });
      let child: BenchChild | null = null;
      try {
        let cancel: Canceller;
        if (where === 'in-process') {
          cancel = async (id) => {
            const t0 = epochMs();
            const outcome = await (adapter.cancelInProcess ?? adapter.cancel).call(adapter, id);
            return { t0, outcome };
          };
        } else {
          child = new BenchChild({
            role: 'client',
            config: { system, namespace: ns, dir: ctx.dir },
          });
          await child.ready();
          let seq = 0;
          const c = child;
          cancel = async (id) => {
            const mine = ++seq;
            c.send({ type: 'cancel', seq: mine, id });
            const reply = await c.next((m) => m.type === 'cancelled' && m.seq === mine, 10_000);
            if (!reply) throw new Error('the cancelling process did not answer');
            return { t0: reply.t0 as number, outcome: reply.outcome as CancelOutcome };
          };
        }
        if (!support) {
          // One run shows what the nearest call does; nothing to time.
          // The handler holds unless aborted: after it, the state shows what the cancel left.
          const result = await trial(adapter, tracker, cancel, 0, abortWaitMs, holdMs);
          await sleep(Math.max(0, holdMs - abortWaitMs) + 300);
          const state = await adapter.state(result.id);
          unsupported = `${result.outcome.detail}; handler ${result.ms === null ? `not aborted within ${abortWaitMs / 1000} s (it ran its full ${holdMs / 1000} s)` : `aborted after ${result.ms.toFixed(1)} ms`}; state after the handler ended: ${state}`;
          return Number.NaN;
        }
        const samples: number[] = [];
        for (let i = 0; i < n; i++) {
          // Cross-process: a random pause between trials, so that they do not fall into step with
          // the worker's cancel poll (in-process delivery polls nothing).
          if (where === 'cross-process') await sleep(Math.random() * PHASE_JITTER_MS);
          const result = await trial(adapter, tracker, cancel, i, abortWaitMs);
          if (result.ms === null) undelivered++;
          else samples.push(result.ms);
        }
        const summary = latencySummary(samples);
        perRepeat.push(summary);
        return summary.p50;
      } finally {
        await child?.close();
        await worker.stop();
      }
    });
  });
  if (unsupported) {
    return [{ ...base, metric: 'cancel → abort p50', summary: null, unsupported }];
  }
  if (perRepeat.length === 0) return null;
  const note = undelivered
    ? `${undelivered} cancel(s) not delivered within ${abortWaitMs / 1000} s (left out)`
    : undefined;
  return (['p50', 'p99', 'max'] as const).map((key) => ({
    ...base,
    metric: `cancel → abort ${key}`,
    summary: summarize(perRepeat.map((s) => s[key])),
    ...(note ? { note } : {}),
  }));
}
