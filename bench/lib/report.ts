import { BACKEND, JOBDECK_SYSTEMS, PEER_SYSTEMS, type SystemName } from '../adapters/types.js';
import type { MachineInfo } from './machine.js';
import { CLI_COMMANDS, type ResultRow, type WorkloadName } from './results.js';
import type { Sizes } from './sizes.js';
import { summarize } from './stats.js';

export interface BenchReport {
  date: string;
  durationS: number;
  mode: 'full' | 'quick' | 'custom';
  repeats: number;
  only: string[];
  sizes: Sizes;
  machine: MachineInfo;
  loadAverage: { start: number[]; end: number[] };
  versions: Record<string, string>;
  settings: Partial<Record<SystemName, Record<string, unknown>>>;
  skipped: string[];
  errors: string[];
  rows: ResultRow[];
  targets: TargetCheck[];
}

export interface TargetCheck {
  target: string;
  status: 'met' | 'not met' | 'not measured';
  measured: string;
}

const TITLES: Record<WorkloadName, string> = {
  enqueue: '1. Enqueue',
  throughput: '2. Throughput (no-op runs already queued)',
  latency: '3. Pickup latency (idle worker, one create every 10 ms)',
  cancel: '4. Cancel delivery (cancel call → the handler sees the abort)',
  crash: '5. Crash recovery (SIGKILL mid-run, fresh worker started at once; default settings)',
  api: '6. HTTP API (autocannon, fixed connections)',
  memory: '7. Memory of one `jobdeck serve` (SQLite, worker on)',
  sse: '8. Event streams (many clients on one instance while runs report progress and logs)',
  cli: '9. Command line (a new process per command, against a running server)',
};

export function fmt(value: number | undefined): string {
  if (value === Number.POSITIVE_INFINITY) return '∞ (never)';
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** Of the rows that `match`, the one with the best median (by `better`), or null. */
function bestRow(
  rows: readonly ResultRow[],
  match: (row: ResultRow) => boolean,
  better: ResultRow['better'],
): ResultRow | null {
  let best: ResultRow | null = null;
  for (const row of rows) {
    if (!match(row)) continue;
    const value = row.summary?.median;
    if (value === undefined || !Number.isFinite(value)) continue;
    const current = best?.summary?.median;
    if (current === undefined || (better === 'higher' ? value > current : value < current))
      best = row;
  }
  return best;
}

/** The best peer row for a Jobdeck row: same comparison key and metric, best median. */
export function bestPeer(
  rows: readonly ResultRow[],
  row: ResultRow,
  filter: (system: SystemName) => boolean = () => true,
): ResultRow | null {
  return bestRow(
    rows,
    (other) =>
      PEER_SYSTEMS.includes(other.system) &&
      filter(other.system) &&
      other.compareKey === row.compareKey &&
      other.metric === row.metric,
    row.better,
  );
}

function ratio(row: ResultRow, peer: ResultRow | null): string {
  const a = row.summary?.median;
  const b = peer?.summary?.median;
  if (
    !peer ||
    a === undefined ||
    b === undefined ||
    !Number.isFinite(a) ||
    !Number.isFinite(b) ||
    b === 0
  )
    return '';
  const r = a / b;
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}× (vs ${peer.system}${peer.variant === row.variant ? '' : ` ${peer.variant}`})`;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  const m = report.machine;
  lines.push(
    `Run ${report.date} (${report.mode}, ${report.repeats} repeat(s) each; ${Math.round(report.durationS)} s in all).`,
  );
  lines.push('');
  lines.push(
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres ?? 'n/a'}; Redis ${m.redis ?? 'n/a'}. Load average at start ${report.loadAverage.start.map((x) => x.toFixed(2)).join(' ')}, at end ${report.loadAverage.end.map((x) => x.toFixed(2)).join(' ')}.`,
  );
  lines.push('');
  lines.push(
    `Versions: ${Object.entries(report.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  );
  if (report.only.length) lines.push('', `Only: ${report.only.join(', ')}.`);
  if (report.skipped.length) lines.push('', `Skipped: ${report.skipped.join('; ')}.`);
  if (report.errors.length) lines.push('', `Errors: ${report.errors.map(escape).join('; ')}.`);
  lines.push('');
  lines.push(
    'Each figure is the median of the repeats, with min–max. "Jobdeck / best peer" divides the Jobdeck median by the best peer median for the same measurement (for latencies and times, below 1 is better).',
  );
  const workloads = [...new Set(report.rows.map((r) => r.workload))];
  for (const workload of workloads) {
    const rows = report.rows.filter((r) => r.workload === workload);
    lines.push('', `### ${TITLES[workload]}`, '');
    lines.push(
      '| system | backend | variant | metric | median | min–max | Jobdeck / best peer | note |',
    );
    lines.push('| --- | --- | --- | --- | ---: | --- | --- | --- |');
    for (const row of rows) {
      const s = row.summary;
      const value = row.unsupported
        ? '**unsupported**'
        : s
          ? `${fmt(s.median)} ${row.unit}`
          : 'n/a';
      const range = s && !row.unsupported ? `${fmt(s.min)}–${fmt(s.max)}` : '';
      const r = JOBDECK_SYSTEMS.includes(row.system) ? ratio(row, bestPeer(report.rows, row)) : '';
      const note = [row.unsupported, row.note].filter(Boolean).join('; ');
      lines.push(
        `| ${row.system} | ${BACKEND[row.system]} | ${escape(row.variant)} | ${escape(row.metric)} | ${value} | ${range} | ${r} | ${escape(note)} |`,
      );
    }
  }
  lines.push('', '### Targets (Jobdeck)', '');
  lines.push('| target | status | measured |');
  lines.push('| --- | --- | --- |');
  for (const t of report.targets)
    lines.push(`| ${escape(t.target)} | ${t.status} | ${escape(t.measured)} |`);
  lines.push('', '### Settings', '');
  for (const [system, settings] of Object.entries(report.settings)) {
    lines.push(
      `- **${system}**: ${Object.entries(settings ?? {})
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join('; ')}`,
    );
  }
  return lines.join('\n') + '\n';
}

function find(
  rows: readonly ResultRow[],
  system: SystemName,
  compareKey: string,
  metric: string,
  variant?: string,
) {
  return rows.find(
    (r) =>
      r.system === system &&
      r.compareKey === compareKey &&
      r.metric === metric &&
      (!variant || r.variant === variant),
  );
}

function check(
  target: string,
  value: number | undefined,
  limit: number,
  direction: '<' | '<=' | '>=',
  describe: (v: number) => string,
): TargetCheck {
  if (value === undefined || Number.isNaN(value))
    return { target, status: 'not measured', measured: 'n/a' };
  const met =
    direction === '<' ? value < limit : direction === '<=' ? value <= limit : value >= limit;
  return { target, status: met ? 'met' : 'not met', measured: describe(value) };
}

/** The targets of the brief, judged on the medians of this run. */
export function checkTargets(rows: readonly ResultRow[]): TargetCheck[] {
  const checks: TargetCheck[] = [];

  // Throughput: Jobdeck's better mode (plain, or with prefetch) against the peer's named mode.
  const throughputTargets: [SystemName, string, SystemName, string, number, string][] = [
    [
      'jobdeck-pg',
      'throughput c16',
      'graphile-worker',
      'c16 batched',
      1.5,
      "Jobdeck/PostgreSQL throughput at c16 ≥ 1.5× graphile-worker's batched mode (c16)",
    ],
    [
      'jobdeck-pg',
      'throughput c1',
      'graphile-worker',
      'c1',
      1.5,
      'Jobdeck/PostgreSQL throughput at c1 ≥ 1.5× graphile-worker c1',
    ],
    [
      'jobdeck-sqlite',
      'throughput c16',
      'bullmq',
      'c16',
      1,
      'Jobdeck/SQLite throughput at c16 ≥ BullMQ c16',
    ],
  ];
  for (const [system, compareKey, peer, peerVariant, factor, target] of throughputTargets) {
    const ours = bestOf(rows, system, compareKey, 'throughput');
    const theirs = find(rows, peer, compareKey, 'throughput', peerVariant);
    const a = ours?.summary?.median;
    const b = theirs?.summary?.median;
    checks.push(
      check(
        target,
        a !== undefined && b ? a / b : undefined,
        factor,
        '>=',
        (v) => `${ours!.variant} ${fmt(a)} vs ${fmt(b)} runs/s = ${v.toFixed(2)}×`,
      ),
    );
  }

  // The two trials take turns repeat by repeat: each pair saw the same moment of the machine.
  const withFeed = find(rows, 'jobdeck-pg', 'throughput c16', 'throughput', 'c16')?.summary?.runs;
  const withoutFeed = find(rows, 'jobdeck-pg', 'throughput c16 without feed', 'throughput')?.summary
    ?.runs;
  const pairs =
    withFeed && withoutFeed && withFeed.length === withoutFeed.length
      ? withFeed.map((value, i) => value / withoutFeed[i]!).filter((r) => Number.isFinite(r))
      : [];
  checks.push(
    check(
      'the event feed keeps Jobdeck/PostgreSQL throughput (c16) within 10 % of the same trial without it (median of the paired repeats)',
      pairs.length > 0 ? summarize(pairs).median : undefined,
      0.9,
      '>=',
      (v) => `${v.toFixed(2)}× (pairs ${pairs.map((r) => r.toFixed(2)).join(', ')})`,
    ),
  );

  const bulkTargets: [SystemName, SystemName, number, string][] = [
    [
      'jobdeck-pg',
      'graphile-worker',
      1.5,
      "Jobdeck/PostgreSQL bulk create ≥ 1.5× graphile-worker's addJobs",
    ],
    ['jobdeck-sqlite', 'bullmq', 1, "Jobdeck/SQLite bulk create ≥ BullMQ's addBulk"],
  ];
  for (const [system, peer, factor, target] of bulkTargets) {
    const ours = find(rows, system, 'enqueue bulk', 'enqueue rate')?.summary?.median;
    const theirs = find(rows, peer, 'enqueue bulk', 'enqueue rate')?.summary?.median;
    checks.push(
      check(
        target,
        ours !== undefined && theirs !== undefined ? ours / theirs : undefined,
        factor,
        '>=',
        (v) => `${fmt(ours ?? 0)} vs ${fmt(theirs ?? 0)} runs/s = ${v.toFixed(2)}×`,
      ),
    );
  }

  const graphilePickup = bestOf(rows, 'graphile-worker', 'latency', 'pickup p50')?.summary?.median;
  for (const variant of ['same instance', 'another process']) {
    const p50 = find(rows, 'jobdeck-pg', 'latency', 'pickup p50', variant)?.summary?.median;
    checks.push(
      check(
        `pickup p50 on PostgreSQL ≤ 0.8× graphile-worker's (${variant})`,
        p50 !== undefined && graphilePickup ? p50 / graphilePickup : undefined,
        0.8,
        '<=',
        (v) => `p50 ${fmt(p50)} vs ${fmt(graphilePickup)} ms = ${v.toFixed(2)}×`,
      ),
    );
  }
  const sqlitePickup = find(rows, 'jobdeck-sqlite', 'latency', 'pickup p50', 'another process')
    ?.summary?.median;
  checks.push(
    check(
      'pickup p50 ≤ 5 ms on SQLite from another process',
      sqlitePickup,
      5,
      '<=',
      (v) => `p50 ${fmt(v)} ms`,
    ),
  );
  const sqliteCancel = find(rows, 'jobdeck-sqlite', 'cancel cross-process', 'cancel → abort p50')
    ?.summary?.median;
  checks.push(
    check(
      'cancel delivery p50 ≤ 5 ms on SQLite from another process',
      sqliteCancel,
      5,
      '<=',
      (v) => `p50 ${fmt(v)} ms`,
    ),
  );
  const xp50 = find(rows, 'jobdeck-pg', 'cancel cross-process', 'cancel → abort p50')?.summary
    ?.median;
  const xp99 = find(rows, 'jobdeck-pg', 'cancel cross-process', 'cancel → abort p99')?.summary
    ?.median;
  checks.push(
    check(
      'cross-process cancel delivery on PostgreSQL p50 ≤ 5 ms',
      xp50,
      5,
      '<=',
      (v) => `p50 ${fmt(v)} ms`,
    ),
  );
  checks.push(
    check(
      'cross-process cancel delivery on PostgreSQL p99 ≤ 25 ms',
      xp99,
      25,
      '<=',
      (v) => `p99 ${fmt(v)} ms`,
    ),
  );
  for (const system of JOBDECK_SYSTEMS) {
    const p50 = find(rows, system, 'cancel in-process', 'cancel → abort p50')?.summary?.median;
    const p99 = find(rows, system, 'cancel in-process', 'cancel → abort p99')?.summary?.median;
    checks.push(
      check(
        `in-process cancel delivery ≤ 1 ms (${system}, p50)`,
        p50,
        1,
        '<=',
        (v) => `p50 ${fmt(v)} ms, p99 ${fmt(p99)} ms`,
      ),
    );
  }
  for (const system of JOBDECK_SYSTEMS) {
    const row = find(rows, system, 'crash', 'SIGKILL → run picked up again');
    checks.push(
      check(
        `crash recovery with default settings ≤ 10 s (${system})`,
        row?.summary?.median,
        10,
        '<=',
        (v) => `${fmt(v)} s (min ${fmt(row?.summary?.min)}, max ${fmt(row?.summary?.max)})`,
      ),
    );
  }
  const idle = rows.find((r) => r.compareKey === 'memory idle')?.summary?.median;
  checks.push(check('idle serve RSS ≤ 100 MB', idle, 100, '<=', (v) => `${fmt(v)} MB`));
  const delta = rows.find((r) => r.compareKey === 'memory delta');
  checks.push(
    check(
      `${delta?.metric.replace('RSS added by ', '') ?? '100,000 finished runs'} add ≤ 50 MB RSS`,
      delta?.summary?.median,
      50,
      '<=',
      (v) => `+${fmt(v)} MB`,
    ),
  );
  for (const system of JOBDECK_SYSTEMS) {
    const p99 = find(rows, system, 'sse', 'GET /api/runs p99');
    const growth = find(rows, system, 'sse', 'RSS growth');
    const clients = p99?.variant ?? '1,000 clients';
    checks.push(
      check(
        `GET /api/runs p99 < 100 ms with ${clients} streaming (${system})`,
        p99?.summary?.median,
        100,
        '<',
        (v) => `p99 ${fmt(v)} ms`,
      ),
    );
    checks.push(
      check(
        `RSS growth < 100 MB with ${clients} streaming (${system})`,
        growth?.summary?.median,
        100,
        '<',
        (v) => `+${fmt(v)} MB`,
      ),
    );
  }
  for (const args of CLI_COMMANDS) {
    const command = `jobdeck ${args.join(' ')}`;
    const wall = find(rows, 'jobdeck-sqlite', `cli ${args.join(' ')}`, 'wall time')?.summary;
    checks.push(
      check(
        `${command} ≤ 300 ms wall`,
        wall?.median,
        300,
        '<=',
        (v) => `${fmt(v)} ms (min ${fmt(wall?.min)}, max ${fmt(wall?.max)})`,
      ),
    );
  }
  return checks;
}

/** The row of `system` with the best median among its variants of one comparison. */
function bestOf(
  rows: readonly ResultRow[],
  system: SystemName,
  compareKey: string,
  metric: string,
): ResultRow | null {
  const match = (r: ResultRow) =>
    r.system === system && r.compareKey === compareKey && r.metric === metric;
  return bestRow(rows, match, rows.find(match)?.better ?? 'higher');
}
