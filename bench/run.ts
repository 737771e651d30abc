/**
 * `npm run bench [-- --quick] [-- --only <system|workload>[,…]] [-- --repeats N] [-- --docs]`
 *
 * Runs every workload against Jobdeck (SQLite, PostgreSQL) and its peers (BullMQ, pg-boss,
 * graphile-worker) on this machine, prints a markdown report on stdout, and writes it with the raw
 * figures to bench/results/ (gitignored). `--docs` also puts the table into docs/benchmarks.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBench } from './lib/bench.js';
import { renderMarkdown } from './lib/report.js';
import { FULL, QUICK } from './lib/sizes.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true, default: [] },
    repeats: { type: 'string' },
    docs: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    [
      'npm run bench -- [--quick] [--only <system|workload>[,…]] [--repeats N] [--docs]',
      '  systems:   jobdeck-sqlite, jobdeck-pg, bullmq, pg-boss, graphile-worker',
      '  workloads: enqueue, throughput, latency, cancel, crash, api, memory, sse',
      '  --docs     write the report into docs/benchmarks.md (between its bench markers)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const repeats = values.repeats ? Number(values.repeats) : 3;
if (!Number.isInteger(repeats) || repeats < 1)
  throw new Error('--repeats must be a positive integer');
const mode = values.quick ? 'quick' : values.only.length || repeats !== 3 ? 'custom' : 'full';

const report = await runBench({
  sizes: values.quick ? QUICK : FULL,
  mode,
  repeats,
  only: values.only,
});
const markdown = renderMarkdown(report);
process.stdout.write('\n' + markdown);

const dir = join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const stamp = report.date.replace(/[:.]/g, '-');
writeFileSync(join(dir, `${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
writeFileSync(join(dir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
writeFileSync(join(dir, 'latest.md'), markdown);
console.error(`\nwritten: bench/results/${stamp}.json, bench/results/latest.{json,md}`);

if (values.docs) {
  const path = join(ROOT, 'docs/benchmarks.md');
  const doc = readFileSync(path, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${start} … ${end} markers`);
  const text = `${doc.slice(0, a + start.length)}\n\n${markdown}\n${doc.slice(b)}`;
  // Formatted as `npm run lint` (prettier --check) wants it.
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(text, { ...config, filepath: path }));
  console.error('written: docs/benchmarks.md');
}
// Peer libraries keep timers and sockets alive after their close(); the report is out.
process.exit(report.errors.length ? 1 : 0);
