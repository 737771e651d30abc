import { JOBDECK_SYSTEMS, type SystemName } from '../adapters/types.js';
import { createAdapter } from '../adapters/index.js';
import { BenchChild } from '../lib/child-process.js';
import { namespace, type ResultRow, type WorkloadContext } from '../lib/results.js';
import { epochMs, sleep, summarize } from '../lib/stats.js';

interface CrashTrial {
  /** SIGKILL → the run's handler starts in the fresh process; null past the cap. */
  recoveryMs: number | null;
  /** SIGKILL → the fresh process reported ready. */
  freshReadyMs: number | null;
  error?: string;
}

/**
 * One trial: a worker process (default settings, concurrency 1) starts a long run; it is SIGKILLed
 * mid-run and a fresh worker process started at once; how long until the run starts again.
 */
async function crashTrial(
  ctx: WorkloadContext,
  system: SystemName,
  capMs: number,
): Promise<CrashTrial> {
  const ns = namespace(ctx, 'crash');
  const config = { system, namespace: ns, dir: ctx.dir };
  const adapter = createAdapter(config);
  await adapter.setup({ fresh: true });
  let first: BenchChild | null = null;
  let fresh: BenchChild | null = null;
  try {
    first = new BenchChild({ role: 'worker', config });
    await first.ready(60_000);
    const id = await adapter.enqueue({ i: 0, ms: 600_000 });
    const started = await first.next((m) => m.type === 'started' && m.id === id, 30_000);
    if (!started) throw new Error('the first worker never started the run');
    // Mid-run: past the first lease renewals.
    await sleep(ctx.sizes.crashMidRunMs);
    first.kill('SIGKILL');
    const killedAt = epochMs();
    fresh = new BenchChild({ role: 'worker', config });
    const ready = fresh.next((m) => m.type === 'ready', capMs);
    const again = await fresh.next((m) => m.type === 'started' && m.id === id, capMs);
    const readyMessage = await Promise.race([ready, Promise.resolve(null)]);
    return {
      recoveryMs: again ? (again.t as number) - killedAt : null,
      freshReadyMs: readyMessage ? (readyMessage.t as number) - killedAt : null,
    };
  } catch (err) {
    return { recoveryMs: null, freshReadyMs: null, error: (err as Error).message };
  } finally {
    first?.kill('SIGKILL');
    await fresh?.close(3000);
    await adapter.teardown({ drop: true }).catch(() => {});
  }
}

/**
 * Workload 5: crash recovery with default settings. The peers' trials (whose defaults recover in
 * tens of seconds or not within the cap) run in the background while Jobdeck's run one at a time.
 */
export async function crashWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  const capMs = ctx.sizes.crashCapMs;
  const results = new Map<SystemName, CrashTrial[]>();
  const background: Promise<void>[] = [];
  // With no head start (the smoke test), every trial runs at once.
  const together = ctx.sizes.crashHeadStartMs === 0;
  const slow = ctx.systems.filter((s) => together || !JOBDECK_SYSTEMS.includes(s));
  const own = ctx.systems.filter((s) => !together && JOBDECK_SYSTEMS.includes(s));
  for (const system of slow) {
    ctx.log(`crash: ${system} (${ctx.repeats} trials in the background, cap ${capMs / 1000} s)`);
    for (let i = 0; i < ctx.repeats; i++) {
      background.push(
        crashTrial(ctx, system, capMs).then((trial) => {
          results.set(system, [...(results.get(system) ?? []), trial]);
          ctx.log(
            `  ${system} crash trial: ${trial.recoveryMs === null ? `not recovered within ${capMs / 1000} s${trial.error ? ` (${trial.error})` : ''}` : `${(trial.recoveryMs / 1000).toFixed(2)} s`}`,
          );
        }),
      );
      if (!together) await sleep(1000);
    }
  }
  // Let the background trials get their processes started before Jobdeck's trials are timed.
  if (slow.length && own.length) await sleep(ctx.sizes.crashHeadStartMs);
  for (const system of own) {
    ctx.log(`crash: ${system} (cap ${capMs / 1000} s)`);
    for (let i = 0; i < ctx.repeats; i++) {
      const trial = await crashTrial(ctx, system, capMs);
      results.set(system, [...(results.get(system) ?? []), trial]);
      ctx.log(
        `  ${system} crash trial: ${trial.recoveryMs === null ? `not recovered within ${capMs / 1000} s${trial.error ? ` (${trial.error})` : ''}` : `${(trial.recoveryMs / 1000).toFixed(2)} s`}`,
      );
    }
  }
  await Promise.all(background);
  const rows: ResultRow[] = [];
  for (const system of ctx.systems) {
    const trials = results.get(system) ?? [];
    const recovered = trials.filter((t) => t.recoveryMs !== null);
    const missed = trials.length - recovered.length;
    const errors = trials.flatMap((t) => (t.error ? [t.error] : []));
    const readies = trials.flatMap((t) => (t.freshReadyMs === null ? [] : [t.freshReadyMs / 1000]));
    rows.push({
      workload: 'crash',
      system,
      variant: 'default settings',
      compareKey: 'crash',
      metric: 'SIGKILL → run picked up again',
      unit: 's',
      better: 'lower',
      // A trial past the cap counts as the cap: the median is then "at least" that.
      summary: trials.length
        ? summarize(trials.map((t) => (t.recoveryMs === null ? capMs / 1000 : t.recoveryMs / 1000)))
        : null,
      ...(missed
        ? {
            note: `${missed} of ${trials.length} trial(s) not recovered within the ${capMs / 1000} s cap (counted as ${capMs / 1000} s: read as "> ${capMs / 1000} s")${errors.length ? `; errors: ${errors.join('; ')}` : ''}`,
          }
        : {}),
      extra: { freshProcessReadyS: readies, capS: capMs / 1000 },
    });
  }
  return rows;
}
