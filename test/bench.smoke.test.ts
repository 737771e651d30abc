/**
 * The benchmark harness (bench/, `npm run bench`) at a tiny size: every workload once against every
 * system, so that it cannot rot. No timing is asserted. In CI (CI set) PostgreSQL and Redis must be
 * reachable, and an unreachable one fails the test loudly; locally their systems are skipped with
 * a printed warning.
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../bench/lib/bench.js';
import { renderMarkdown } from '../bench/lib/report.js';
import type { WorkloadName } from '../bench/lib/results.js';
import { SMOKE } from '../bench/lib/sizes.js';

async function smoke(workloads: WorkloadName[]) {
  const log: string[] = [];
  const report = await runBench({
    sizes: SMOKE,
    mode: 'custom',
    repeats: 1,
    only: workloads,
    unreachable: process.env.CI ? 'throw' : 'skip',
    build: 'missing',
    log: (m) => {
      log.push(m);
      if (m.startsWith('!!!')) console.warn(m);
    },
  });
  expect(report.errors, log.join('\n')).toEqual([]);
  expect([...new Set(report.rows.map((r) => r.workload))].sort()).toEqual([...workloads].sort());
  for (const row of report.rows) {
    // Every row has a figure, or says why not.
    expect(
      row.summary !== null || Boolean(row.unsupported),
      `${row.system} ${row.variant} ${row.metric}`,
    ).toBe(true);
  }
  const markdown = renderMarkdown(report);
  expect(markdown).toContain('### Targets (Jobdeck)');
  expect(markdown).toContain('| jobdeck-sqlite |');
  return report;
}

// Three groups at once: the harness waits on child processes and polling intervals, not on the CPU.
describe.concurrent('bench harness (smoke)', () => {
  it('enqueue, throughput and latency: every system', { timeout: 180_000 }, async () => {
    const report = await smoke(['enqueue', 'throughput', 'latency']);
    const systems = new Set(report.rows.map((r) => r.system));
    expect(systems.has('jobdeck-sqlite')).toBe(true);
    if (process.env.CI) expect(systems.size).toBe(5);
  });

  it('cancel and memory', { timeout: 180_000 }, async () => {
    const report = await smoke(['cancel', 'memory']);
    expect(report.rows.some((r) => r.workload === 'cancel' && r.system === 'jobdeck-sqlite')).toBe(
      true,
    );
    expect(
      report.rows.find((r) => r.compareKey === 'memory idle')?.summary?.median,
    ).toBeGreaterThan(0);
  });

  it(
    'event streams: a figure for Jobdeck, a reason for each peer',
    { timeout: 180_000 },
    async () => {
      const report = await smoke(['sse']);
      const jobdeck = report.rows.find(
        (r) => r.system === 'jobdeck-sqlite' && r.metric === 'events delivered',
      );
      expect(jobdeck?.summary?.median).toBeGreaterThan(0);
      expect(jobdeck?.note).toMatch(/run\.finished per client (\d+)–\d+ of \1;/);
      for (const row of report.rows.filter((r) => r.system === 'bullmq' || r.system === 'pg-boss'))
        expect(row.unsupported).toMatch(/no event stream over HTTP/);
    },
  );

  it('crash recovery, the HTTP API and the command line', { timeout: 180_000 }, async () => {
    const report = await smoke(['crash', 'api', 'cli']);
    expect(report.rows.filter((r) => r.workload === 'crash').length).toBeGreaterThan(0);
    expect(report.rows.filter((r) => r.workload === 'api').length).toBe(
      report.rows.some((r) => r.system === 'jobdeck-pg') ? 8 : 4,
    );
    const cli = report.rows.filter((r) => r.workload === 'cli');
    expect(cli.map((r) => r.variant)).toEqual([
      'jobdeck --version',
      'jobdeck jobs',
      'jobdeck runs',
    ]);
    for (const row of cli) expect(row.summary?.median).toBeGreaterThan(0);
  });
});
