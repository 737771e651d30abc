/**
 * One throughput trial of one system, for profiling (not part of `npm run bench`):
 *
 *   node --cpu-prof --cpu-prof-dir=bench/results/profiles --import tsx bench/profile.ts \
 *     [system=jobdeck-pg] [concurrency=16] [runs=20000] [batched] [analyze]
 *   npx tsx bench/cpuprofile-summary.ts bench/results/profiles/<file>.cpuprofile
 *
 * Seeds the runs (untimed), then runs them with a no-op handler and prints runs/s. `analyze`
 * (jobdeck-pg) runs ANALYZE on the runs table after seeding, as autovacuum would a minute later.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdapter } from './adapters/index.js';
import { SYSTEMS, type SystemName } from './adapters/types.js';
import pg from 'pg';
import { PG_URL } from './lib/env.js';
import { sleep } from './lib/stats.js';

const [systemArg = 'jobdeck-pg', concurrencyArg = '16', runsArg = '20000', ...flags] =
  process.argv.slice(2);
if (!(SYSTEMS as readonly string[]).includes(systemArg))
  throw new Error(`unknown system ${systemArg}`);
const system = systemArg as SystemName;
const concurrency = Number(concurrencyArg);
const n = Number(runsArg);
const dir = mkdtempSync(join(tmpdir(), 'jobdeck-profile-'));
const adapter = createAdapter({ system, namespace: `prof_${process.pid}`, dir });
await adapter.setup({ fresh: true });
const payloads = Array.from({ length: n }, (_, i) => ({ i }));
await (adapter.seed ? adapter.seed(payloads) : adapter.enqueueBulk(payloads));
if (flags.includes('analyze') && system === 'jobdeck-pg') {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`ANALYZE bench_jd_prof_${process.pid}.jobdeck_runs`);
  await client.end();
}
let handled = 0;
let first = 0;
const worker = await adapter.startWorker({
  concurrency,
  batched: flags.includes('batched'),
  handler: () => {
    if (handled++ === 0) first = performance.now();
  },
});
while ((await adapter.unfinished()) > 0) await sleep(handled >= n ? 5 : 50);
const seconds = (performance.now() - first) / 1000;
console.log(
  `${system} c${concurrency}: ${n} runs in ${seconds.toFixed(2)} s = ${(n / seconds).toFixed(0)} runs/s`,
);
await worker.stop();
await adapter.teardown({ drop: true });
rmSync(dir, { recursive: true, force: true });
process.exit(0);
