/**
 * The crash loop shared by test/crash.postgres.test.ts (20 kills) and scripts/soak-crash.ts (as many
 * as asked): worker processes (test/helpers/worker-process.ts) on one PostgreSQL schema execute
 * ledger runs; again and again, a worker is SIGKILLed at a random offset into a run it executes and
 * a fresh worker is started in its place, while the others go on. Afterwards the ledger and the
 * store tell whether any run was lost, whether two attempts of one run ever overlapped, and how
 * long each killed run waited before another worker took it.
 *
 * The only timed wait is the random offset between a run's start and the kill: that is the
 * perturbation under test, not a synchronisation. Everything else waits on the ledger or the store
 * with a deadline.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Run } from '../../src/core/run.js';
import { isTerminal } from '../../src/core/status.js';
import { Jobdeck } from '../../src/jobdeck.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { attemptsOf, overlappingAttempts } from './ledger-check.js';
import { LEDGER_JOB, ledgerJobs, readLedger, type LedgerResult } from './ledger-jobs.js';
import { scriptWorkerReady, schemaUrl, type Instance, type InstanceSet } from './pg-instances.js';
import { pollUntil } from './poll.js';

export interface CrashSoakOptions {
  /** The PostgreSQL server, without schema. */
  pgUrl: string;
  /** A schema of its own (created here, dropped by the caller). */
  schema: string;
  /** A folder for the ledger file. */
  dir: string;
  /** How many kills of a worker in the middle of a run. */
  kills: number;
  /** Tracks the worker processes so the caller can always end them. */
  instances: InstanceSet;
  /** Workers alive at once (each runs one run at a time). Default 4. */
  workers?: number;
  leaseMs?: number;
  heartbeatMs?: number;
  /** How often each worker's rescuer looks for expired leases. */
  maintenanceMs?: number;
  /** A killed run must be claimed again within lease + rescuer interval + this. Default 800 ms. */
  slackMs?: number;
  /** Progress lines, e.g. console.log. */
  log?: (line: string) => void;
  random?: () => number;
}

export interface KilledAttempt {
  runId: string;
  attempt: number;
  workerId: string;
  /** When SIGKILL was sent. */
  killedAt: number;
  /** Milliseconds from the kill until the next attempt started, or null if none did. */
  reclaimMs: number | null;
  /** Milliseconds from the kill until the dead attempt's lease expired (read right after the kill). */
  leaseLeftMs: number | null;
}

export interface CrashSoakSummary {
  kills: number;
  /** Kills that found their worker between runs (not counted in `kills`). */
  misses: number;
  runs: number;
  durationMs: number;
  leaseMs: number;
  maintenanceMs: number;
  slackMs: number;
  /** lease + rescuer interval + slack. */
  reclaimBoundMs: number;
  killed: KilledAttempt[];
  /** Runs that did not end `completed` (lost). */
  lost: { id: string; status: string; attempt: number }[];
  /** Pairs of attempts of one run that overlapped in time. */
  overlaps: string[];
  /** Killed attempts taken again later than the bound, or never. */
  late: KilledAttempt[];
  /** Completed runs whose stored result is not their last attempt's. */
  wrongResults: string[];
  /** Final attempt counts: attempts → runs. */
  attemptHistogram: Record<number, number>;
  /** Errors the surviving workers' loops reported (stderr). */
  loopErrors: string[];
}

/** First attempt: three steps of 500 ms (a kill may land in a step or between two); retries are quick. */
const FIRST_STEPS = 3;
const FIRST_STEP_MS = 500;
const RETRY_STEP_MS = 30;
/** Kills land uniformly in [0, this) ms after the run's first attempt started. */
const MAX_OFFSET_MS = 1300;

export async function crashSoak(options: CrashSoakOptions): Promise<CrashSoakSummary> {
  const leaseMs = options.leaseMs ?? 1000;
  const heartbeatMs = options.heartbeatMs ?? 200;
  const maintenanceMs = options.maintenanceMs ?? 200;
  const slackMs = options.slackMs ?? 800;
  const workerCount = options.workers ?? 4;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => {});
  const ledgerPath = join(options.dir, 'ledger.jsonl');
  const db = schemaUrl(options.pgUrl, options.schema);

  // This process creates runs and reads them; it runs no handler and no background loop.
  const deck = new Jobdeck({
    store: new PostgresStore({
      connectionString: options.pgUrl,
      schema: options.schema,
      notify: false,
      poolSize: 3,
    }),
    jobs: ledgerJobs({ ledgerPath, workerId: 'soak' }),
    worker: false,
    scheduler: false,
    maintenance: false,
  });
  await deck.start();
  const started = Date.now();
  try {
    let serial = 0;
    const alive = new Map<string, Instance>();
    const spawn = () => {
      const name = `w${++serial}`;
      const instance = options.instances.scriptWorker(name, [
        '--db',
        db,
        '--ledger',
        ledgerPath,
        // One run at a time: a kill hits exactly the run it was aimed at.
        '--concurrency',
        '1',
        '--lease-ms',
        String(leaseMs),
        '--heartbeat-ms',
        String(heartbeatMs),
        '--maintenance-ms',
        String(maintenanceMs),
      ]);
      alive.set(name, instance);
      return instance;
    };
    await Promise.all(Array.from({ length: workerCount }, () => scriptWorkerReady(spawn())));

    const runIds: string[] = [];
    const deaths = new Map<string, number>();
    const killedAt = new Map<string, number>();
    const leaseEnds = new Map<string, number>();
    let kills = 0;
    let misses = 0;
    while (kills < options.kills) {
      // Room for the next run and for the retries of the killed ones: all workers but the newest
      // replacement are up (that one starts while the run goes on).
      await Promise.all(
        [...alive.values()].slice(0, -1).map((instance) => scriptWorkerReady(instance)),
      );
      const { run } = await deck.runs.create({
        job: LEDGER_JOB,
        input: { steps: FIRST_STEPS, stepMs: FIRST_STEP_MS, retryStepMs: RETRY_STEP_MS },
      });
      runIds.push(run.id);
      const start = await pollUntil(
        () =>
          readLedger(ledgerPath).find(
            (line) => line.runId === run.id && line.attempt === 1 && line.event === 'start',
          ),
        { timeoutMs: 15_000, what: `run ${run.id} to start` },
      );
      const victim = alive.get(start.workerId);
      if (!victim) throw new Error(`run ${run.id} started on ${start.workerId}, not a live worker`);
      // The perturbation: a random offset into the run.
      await delay(Math.floor(random() * MAX_OFFSET_MS));
      const at = Date.now();
      await victim.kill('SIGKILL');
      alive.delete(victim.name);
      // It ran no more once signalled; when its exit was seen here (late on a loaded machine) says
      // nothing about when it stopped.
      deaths.set(victim.name, at);
      killedAt.set(victim.name, at);
      spawn();
      const open = openAttemptsOf(readLedger(ledgerPath), victim.name);
      // Its holder is dead: the lease it left is final until the rescuer acts.
      for (const attempt of open) {
        const held = await deck.runs.get(attempt.runId);
        if (held.attempt === attempt.attempt && held.leaseExpiresAt)
          leaseEnds.set(`${attempt.runId}#${attempt.attempt}`, held.leaseExpiresAt.getTime());
      }
      if (open.length > 0) kills++;
      else misses++;
      if ((kills + misses) % 10 === 0) log(`  ${kills} kills (${misses} misses) so far`);
    }

    // Every run ends; wait for all of them (rescue takes a lease, the retries are short).
    const finished = await pollUntil(
      async () => {
        const { runs } = await deck.store.runList({
          ids: runIds,
          limit: runIds.length,
          cursor: null,
        });
        return runs.length === runIds.length && runs.every((r) => isTerminal(r.status))
          ? runs
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'every run to finish' },
    );
    await Promise.all([...alive.values()].map((instance) => scriptWorkerReady(instance)));

    const ledger = readLedger(ledgerPath);
    const killed: KilledAttempt[] = [];
    for (const [workerId, at] of killedAt) {
      for (const open of openAttemptsOf(ledger, workerId)) {
        const leaseEnd = leaseEnds.get(`${open.runId}#${open.attempt}`);
        const next = ledger.find(
          (line) =>
            line.runId === open.runId &&
            line.attempt === open.attempt + 1 &&
            line.event === 'start',
        );
        killed.push({
          runId: open.runId,
          attempt: open.attempt,
          workerId,
          killedAt: at,
          reclaimMs: next ? next.t - at : null,
          leaseLeftMs: leaseEnd === undefined ? null : leaseEnd - at,
        });
      }
    }
    const reclaimBoundMs = leaseMs + maintenanceMs + slackMs;
    const histogram: Record<number, number> = {};
    for (const run of finished) histogram[run.attempt] = (histogram[run.attempt] ?? 0) + 1;
    return {
      kills,
      misses,
      runs: runIds.length,
      durationMs: Date.now() - started,
      leaseMs,
      maintenanceMs,
      slackMs,
      reclaimBoundMs,
      killed,
      lost: finished
        .filter((run) => run.status !== 'completed')
        .map((run) => ({ id: run.id, status: run.status, attempt: run.attempt })),
      overlaps: overlappingAttempts(ledger, deaths),
      late: killed.filter((k) => k.reclaimMs === null || k.reclaimMs > reclaimBoundMs),
      wrongResults: finished.filter((run) => !resultIsLastAttempt(run, ledger)).map((r) => r.id),
      attemptHistogram: histogram,
      loopErrors: options.instances.all
        .filter((instance) => !deaths.has(instance.name))
        .flatMap((instance) =>
          instance.stderr
            .split('\n')
            .filter(Boolean)
            .map((line) => `${instance.name}: ${line}`),
        ),
    };
  } finally {
    await deck.close();
  }
}

/** Attempts `workerId` started and never ended in the ledger: the ones a kill cut. */
export function openAttemptsOf(
  ledger: ReturnType<typeof readLedger>,
  workerId: string,
): { runId: string; attempt: number }[] {
  const open = new Map<string, { runId: string; attempt: number }>();
  for (const line of ledger) {
    if (line.workerId !== workerId) continue;
    const key = `${line.runId}#${line.attempt}`;
    if (line.event === 'start') open.set(key, { runId: line.runId, attempt: line.attempt });
    if (line.event === 'end' || line.event === 'stopped') open.delete(key);
  }
  return [...open.values()];
}

/** The stored result is the one the last attempt returned, by the worker the store names. */
function resultIsLastAttempt(run: Run, ledger: ReturnType<typeof readLedger>): boolean {
  if (run.status !== 'completed') return true;
  const result = run.result as LedgerResult | null;
  const last = attemptsOf(ledger, run.id).get(run.attempt);
  return (
    result !== null &&
    result.attempt === run.attempt &&
    result.workerId === run.workerId &&
    last?.some((line) => line.event === 'end' && line.workerId === run.workerId) === true
  );
}

/** The summary as a few printable lines. */
export function describeSoak(summary: CrashSoakSummary): string {
  const reclaims = summary.killed
    .map((k) => k.reclaimMs)
    .filter((ms): ms is number => ms !== null)
    .sort((a, b) => a - b);
  const pick = (q: number, list = reclaims) =>
    list.length ? list[Math.min(list.length - 1, Math.ceil(q * list.length) - 1)] : NaN;
  // From the lease's expiry (as the store had it when the worker died) to the next attempt.
  const afterExpiry = summary.killed
    .filter((k) => k.reclaimMs !== null && k.leaseLeftMs !== null)
    .map((k) => k.reclaimMs! - k.leaseLeftMs!)
    .sort((a, b) => a - b);
  return [
    `crash soak: ${summary.kills} SIGKILLs mid-run (+${summary.misses} that found the worker between runs), ${summary.runs} runs, ${(summary.durationMs / 1000).toFixed(1)} s`,
    `  lost runs: ${summary.lost.length}; overlapping attempts: ${summary.overlaps.length}; wrong results: ${summary.wrongResults.length}`,
    `  final attempts per run: ${JSON.stringify(summary.attemptHistogram)}`,
    `  re-claim after kill (lease ${summary.leaseMs} + rescuer ${summary.maintenanceMs} + slack ${summary.slackMs} = bound ${summary.reclaimBoundMs} ms): min ${reclaims[0]} / median ${pick(0.5)} / p95 ${pick(0.95)} / max ${reclaims[reclaims.length - 1]} ms; late or never: ${summary.late.length}`,
    `  of which after the dead worker's lease expired (rescuer + claim): median ${pick(0.5, afterExpiry)} / p95 ${pick(0.95, afterExpiry)} / max ${afterExpiry[afterExpiry.length - 1]} ms`,
    `  loop errors on surviving workers: ${summary.loopErrors.length}`,
  ].join('\n');
}
