import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND, SYSTEMS, type SystemName } from '../adapters/types.js';
import { apiWorkload } from '../workloads/api.js';
import { cancelWorkload } from '../workloads/cancel.js';
import { crashWorkload } from '../workloads/crash.js';
import { enqueueWorkload } from '../workloads/enqueue.js';
import { latencyWorkload } from '../workloads/latency.js';
import { memoryWorkload } from '../workloads/memory.js';
import { cliWorkload } from '../workloads/cli.js';
import { sseWorkload } from '../workloads/sse.js';
import { throughputWorkload } from '../workloads/throughput.js';
import { PG_URL, REDIS_URL, postgresUp, redisUp } from './env.js';
import { machineInfo, packageVersion } from './machine.js';
import { checkTargets, type BenchReport } from './report.js';
import { WORKLOADS, type ResultRow, type WorkloadContext, type WorkloadName } from './results.js';
import type { Sizes } from './sizes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Jobdeck's imports resolve from src/: its pg and better-sqlite3 are the root package's. */
const JOBDECK_SRC = new URL('../../src/index.ts', import.meta.url);

/**
 * Jobdeck's pg, and the peers' if it differs: pg-boss and graphile-worker load the copy in
 * bench/node_modules (bench/package-lock.json), Jobdeck the root one (package-lock.json).
 */
function pgVersions(): string {
  const jobdeck = packageVersion('pg', JOBDECK_SRC);
  const peers = packageVersion('pg');
  return peers === jobdeck ? jobdeck : `${jobdeck} (pg-boss and graphile-worker: ${peers})`;
}

const RUNNERS: Record<WorkloadName, (ctx: WorkloadContext) => Promise<ResultRow[]>> = {
  enqueue: enqueueWorkload,
  throughput: throughputWorkload,
  latency: latencyWorkload,
  cancel: cancelWorkload,
  crash: crashWorkload,
  api: apiWorkload,
  memory: memoryWorkload,
  sse: sseWorkload,
  cli: cliWorkload,
};

export interface BenchOptions {
  sizes: Sizes;
  mode: BenchReport['mode'];
  repeats: number;
  /** Systems and/or workloads to run (empty: all). */
  only: string[];
  log?: (message: string) => void;
  /** What to do when PostgreSQL or Redis cannot be reached: skip those systems, or throw. */
  unreachable?: 'skip' | 'throw';
  /** Build dist/ for the memory workload when it is missing, or also when it is older than src/. */
  build?: 'missing' | 'stale';
}

/** Split `--only` values into systems and workloads; unknown names are an error. */
export function parseOnly(only: string[]): { systems: SystemName[]; workloads: WorkloadName[] } {
  const systems: SystemName[] = [];
  const workloads: WorkloadName[] = [];
  for (const name of only
    .flatMap((o) => o.split(','))
    .map((s) => s.trim())
    .filter(Boolean)) {
    if ((SYSTEMS as readonly string[]).includes(name)) systems.push(name as SystemName);
    else if ((WORKLOADS as readonly string[]).includes(name)) workloads.push(name as WorkloadName);
    else
      throw new Error(
        `--only ${name}: not a system (${SYSTEMS.join(', ')}) or workload (${WORKLOADS.join(', ')})`,
      );
  }
  return {
    systems: systems.length ? systems : [...SYSTEMS],
    workloads: workloads.length ? workloads : [...WORKLOADS],
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The memory and CLI workloads run the real CLI (bin/jobdeck.js → dist/): build it when missing or stale. */
export function ensureBuilt(log: (m: string) => void, when: 'missing' | 'stale' = 'stale'): void {
  const main = join(ROOT, 'dist/cli/main.js');
  if (
    existsSync(main) &&
    (when === 'missing' || statSync(main).mtimeMs >= newestMtime(join(ROOT, 'src')))
  )
    return;
  log('building dist/ for the memory and CLI workloads (npm run build)…');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const log = options.log ?? ((m: string) => console.error(m));
  const started = performance.now();
  const startLoad = loadavg();
  const { systems: wanted, workloads } = parseOnly(options.only);
  const machine = machineInfo();
  const skipped: string[] = [];
  const errors: string[] = [];

  const pgVersion = wanted.some((s) => BACKEND[s] === 'PostgreSQL')
    ? await postgresUp()
    : 'not needed';
  const redisVersion = wanted.includes('bullmq') ? await redisUp() : 'not needed';
  let systems = wanted;
  const unreachable = (what: string, lost: SystemName[]) => {
    const message = `${what} is unreachable: ${lost.join(', ')} not measured${options.unreachable === 'throw' ? ' (and CI is set: failing)' : ''}`;
    if (options.unreachable === 'throw') throw new Error(message);
    log(`!!! ${message}`);
    skipped.push(message);
    systems = systems.filter((s) => !lost.includes(s));
  };
  if (pgVersion === null)
    unreachable(
      `PostgreSQL at ${PG_URL}`,
      wanted.filter((s) => BACKEND[s] === 'PostgreSQL'),
    );
  if (redisVersion === null) unreachable(`Redis at ${REDIS_URL}`, ['bullmq']);
  machine.postgres = pgVersion && pgVersion !== 'not needed' ? pgVersion : null;
  if (redisVersion && redisVersion !== 'not needed') machine.redis = redisVersion;

  const dir = mkdtempSync(join(tmpdir(), 'jobdeck-bench-'));
  const ctx: WorkloadContext = {
    sizes: options.sizes,
    repeats: options.repeats,
    dir,
    runId: `b${Date.now().toString(36)}${process.pid.toString(36)}`,
    systems,
    log,
    settings: new Map(),
  };
  const rows: ResultRow[] = [];
  try {
    if (
      (workloads.includes('memory') || workloads.includes('cli')) &&
      systems.includes('jobdeck-sqlite')
    )
      ensureBuilt(log, options.build);
    for (const workload of workloads) {
      const t0 = performance.now();
      try {
        rows.push(...(await RUNNERS[workload](ctx)));
      } catch (err) {
        const message = `${workload}: ${(err as Error).stack ?? String(err)}`;
        log(`!!! workload failed: ${message}`);
        errors.push(message);
      }
      log(`${workload}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    if (dirty) commit += ' + uncommitted src changes';
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    durationS: (performance.now() - started) / 1000,
    mode: options.mode,
    repeats: options.repeats,
    only: options.only,
    sizes: options.sizes,
    machine,
    loadAverage: { start: startLoad, end: loadavg() },
    versions: {
      jobdeck: `${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version} (${commit})`,
      bullmq: packageVersion('bullmq'),
      ioredis: packageVersion('ioredis'),
      'pg-boss': packageVersion('pg-boss'),
      'graphile-worker': packageVersion('graphile-worker'),
      autocannon: packageVersion('autocannon'),
      pg: pgVersions(),
      'better-sqlite3': packageVersion('better-sqlite3', JOBDECK_SRC),
    },
    settings: Object.fromEntries(ctx.settings),
    skipped,
    errors,
    rows,
    targets: checkTargets(rows),
  };
}
