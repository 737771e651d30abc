import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineJob } from '../../src/jobs/define.js';
import { Jobdeck } from '../../src/jobdeck.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { rssMb } from '../lib/machine.js';
import { namespace, type ResultRow, type WorkloadContext } from '../lib/results.js';
import { sleep, summarize } from '../lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'bench-admin-token-000000000002';

/** V8 heap in use (MB), from the instance's own Prometheus metrics. */
async function heapUsedMb(port: number): Promise<number> {
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${port}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).text();
    const value = /^nodejs_heap_size_used_bytes\s+(\S+)/m.exec(text)?.[1];
    return value === undefined ? Number.NaN : Number(value) / 2 ** 20;
  } catch {
    return Number.NaN;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startServe(db: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      'bin/jobdeck.js',
      'serve',
      '--db',
      db,
      '--port',
      String(port),
      '--jobs',
      'bench/fixtures/noop-jobs.mjs',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, JOBDECK_TOKENS: `bench:admin:${TOKEN}`, JOBDECK_LOG_LEVEL: 'warn' },
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Jobdeck is serving')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return child;
}

/**
 * Workload 7: RSS of one real `jobdeck serve` (bin/jobdeck.js, SQLite, worker on, a no-op job)
 * idle, and after it has executed and stored N finished runs (created by a second instance on the
 * same file as fast as it takes them).
 */
export async function memoryWorkload(ctx: WorkloadContext): Promise<ResultRow[]> {
  if (!ctx.systems.includes('jobdeck-sqlite')) return [];
  const n = ctx.sizes.memoryN;
  const capMs = ctx.sizes.memoryCapMs;
  const settleMs = ctx.sizes.memorySettleMs;
  const idle: number[] = [];
  const after: number[] = [];
  const delta: number[] = [];
  const rates: number[] = [];
  const heapIdle: number[] = [];
  const heapAfter: number[] = [];
  const notes: string[] = [];
  for (let r = 0; r < ctx.repeats; r++) {
    const db = join(ctx.dir, `mem-${namespace(ctx, 'mem')}.db`);
    const port = await freePort();
    const serve = await startServe(db, port);
    const producerStore = new SqliteStore({ path: db });
    const producer = new Jobdeck({
      store: producerStore,
      jobs: [defineJob({ name: 'bench.noop', run: () => null })],
      worker: false,
      scheduler: false,
      maintenance: false,
    });
    try {
      await sleep(settleMs);
      const idleMb = rssMb(serve.pid!);
      idle.push(idleMb);
      heapIdle.push(await heapUsedMb(port));
      ctx.log(`memory #${r + 1}: idle serve RSS ${idleMb.toFixed(1)} MB; creating ${n} runs`);
      await producer.start();
      const started = performance.now();
      for (let i = 0; i < n; i += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, n - i) }, () =>
            producer.runs.create({ job: 'bench.noop' }),
          ),
        );
      }
      let left = Infinity;
      while (performance.now() - started < capMs) {
        const counts = await producerStore.runCountUnfinished();
        left = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
        if (left === 0) break;
        await sleep(500);
      }
      const seconds = (performance.now() - started) / 1000;
      rates.push((n - left) / seconds);
      if (left > 0)
        notes.push(`repeat ${r + 1}: ${left} runs unfinished at the ${capMs / 1000} s cap`);
      // What a dashboard would then ask.
      for (const path of ['/api/runs?limit=50', '/api/jobs', '/metrics', '/healthz']) {
        await fetch(`http://127.0.0.1:${port}${path}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
          .then((res) => res.arrayBuffer())
          .catch(() => {});
      }
      await sleep(settleMs);
      const afterMb = rssMb(serve.pid!);
      after.push(afterMb);
      heapAfter.push(await heapUsedMb(port));
      delta.push(afterMb - idleMb);
      ctx.log(
        `memory #${r + 1}: ${n - left} runs finished in ${seconds.toFixed(1)} s; RSS ${afterMb.toFixed(1)} MB (+${(afterMb - idleMb).toFixed(1)} MB)`,
      );
    } finally {
      await producer.close().catch(() => {});
      serve.kill('SIGKILL');
      for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
    }
  }
  const base = {
    workload: 'memory' as const,
    system: 'jobdeck-sqlite' as const,
    unit: 'MB',
    better: 'lower' as const,
  };
  const runsNote = `${n} runs executed by the serve instance (concurrency 10, default) at ${summarize(rates).median.toFixed(0)} runs/s${notes.length ? `; ${notes.join('; ')}` : ''}`;
  return [
    {
      ...base,
      variant: 'serve idle',
      compareKey: 'memory idle',
      metric: 'RSS idle',
      summary: summarize(idle),
    },
    {
      ...base,
      variant: `serve after ${n} runs`,
      compareKey: 'memory after',
      metric: `RSS after ${n} finished runs`,
      summary: summarize(after),
      note: runsNote,
    },
    {
      ...base,
      variant: `serve after ${n} runs`,
      compareKey: 'memory delta',
      metric: `RSS added by ${n} finished runs`,
      summary: summarize(delta),
      note: `V8 heap used (its /metrics): ${summarize(heapIdle).median.toFixed(1)} MB idle, ${summarize(heapAfter).median.toFixed(1)} MB after (medians)`,
    },
  ];
}
