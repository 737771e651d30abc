/**
 * `npx tsx bench/stats.ts [--sqlite|--pg] [--runs N] [--days N] [--repeats N] [--keep]`
 *
 * Fills a fresh store with N runs (default 1,000,000) spread evenly over the N days (default 30)
 * before now, with bulk SQL (bench/stats/<backend>/fill.sql), then times what the dashboard asks
 * of it: the store's runStats for the last 24 h in 1 h buckets (and other windows), and the run
 * list's first page and total under each filter. Prints the median, min and max of the repeats
 * and the plan of the statistics statement (EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE,
 * BUFFERS) on PostgreSQL). Both backends by default; PostgreSQL is skipped when unreachable.
 */
import Database from 'better-sqlite3';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { compileNamedParams } from '../src/store/named-params.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { loadNamedQueries } from '../src/store/sql-files.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { RunFilter, Store } from '../src/store/store.js';
import { freshSchema } from '../test/helpers/postgres.js';
import { tempDbPath } from '../test/helpers/temp.js';
import { PG_URL, postgresUp } from './lib/env.js';
import { summarize } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    sqlite: { type: 'boolean', default: false },
    pg: { type: 'boolean', default: false },
    runs: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '30' },
    repeats: { type: 'string', default: '7' },
    keep: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const DAYS = Number(values.days);
const REPEATS = Number(values.repeats);
if (!(RUNS > 0) || !(DAYS > 0) || !(REPEATS > 0)) {
  console.error('--runs, --days and --repeats must be positive numbers');
  process.exit(2);
}
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Runs created this long before now are still waiting or running (see the fill's mix). */
const FRESH_MS = 3 * 60_000;

interface Backend {
  name: string;
  store: Store;
  fill: (now: number) => Promise<void>;
  /** The plan of the store's runStats statement for these parameters. */
  plan: (params: Record<string, number>) => Promise<string>;
  close: () => Promise<void>;
}

const sqlOf = (dir: string, name: string): string => {
  const sql = loadNamedQueries(fileURLToPath(new URL(dir, import.meta.url))).get(name);
  if (sql === undefined) throw new Error(`no SQL named ${name} in ${dir}`);
  return sql;
};

async function sqliteBackend(): Promise<Backend> {
  const { path, cleanup } = tempDbPath();
  const store = new SqliteStore({ path });
  await store.migrate();
  const db = new Database(path);
  return {
    name: 'SQLite',
    store,
    fill: async (now) => {
      db.prepare(sqlOf('./stats/sqlite/', 'statsFill')).run({
        count: RUNS,
        spanMs: DAYS * DAY,
        now,
        freshMs: FRESH_MS,
      });
      // The store runs no ANALYZE, so neither does the benchmark: the plans are those users get.
      db.pragma('wal_checkpoint(TRUNCATE)');
    },
    plan: async (params) =>
      (
        db
          .prepare(`EXPLAIN QUERY PLAN ${sqlOf('../src/store/sqlite/sql/', 'runStats')}`)
          .all(params) as { id: number; parent: number; detail: string }[]
      )
        .map((row) => `${row.parent === 0 ? '' : '  '}${row.detail}`)
        .join('\n'),
    close: async () => {
      db.close();
      await store.close();
      if (values.keep) console.log(`kept ${path}`);
      else cleanup();
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const schema = freshSchema();
  const store = new PostgresStore({ connectionString: PG_URL, schema, notify: false });
  await store.migrate();
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  client.on('error', (err) => console.error('bench client:', err.message));
  await client.connect();
  const run = async (dir: string, name: string, params: Record<string, number>) => {
    const { text, names } = compileNamedParams(sqlOf(dir, name));
    return client.query({ text, values: names.map((n) => params[n]) });
  };
  return {
    name: 'PostgreSQL',
    store,
    fill: async (now) => {
      await run('./stats/postgres/', 'statsFill', {
        count: RUNS,
        spanMs: DAYS * DAY,
        now,
        freshMs: FRESH_MS,
      });
      // What autovacuum does after a bulk load, done at once: statistics and the visibility map.
      await client.query('VACUUM ANALYZE jobdeck_runs');
    },
    plan: async (params) => {
      // As the store runs it (runStatsWithoutJit).
      await client.query('SET jit = off');
      const { text, names } = compileNamedParams(sqlOf('../src/store/postgres/sql/', 'runStats'));
      const result = await client.query<{ 'QUERY PLAN': string }>({
        text: `EXPLAIN (ANALYZE, BUFFERS) ${text}`,
        values: names.map((n) => params[n]),
      });
      return result.rows.map((row) => row['QUERY PLAN']).join('\n');
    },
    close: async () => {
      await client.end();
      if (values.keep) console.log(`kept schema ${schema}`);
      else await store.dropSchema();
      await store.close();
    },
  };
}

async function time(what: () => Promise<unknown>): Promise<string> {
  await what(); // warm-up: statement preparation, first page reads
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    await what();
    samples.push(performance.now() - started);
  }
  const { median, min, max } = summarize(samples);
  return `${median.toFixed(1)} ms (min ${min.toFixed(1)}, max ${max.toFixed(1)})`;
}

async function measure(backend: Backend): Promise<void> {
  const now = Date.now();
  console.log(`\n## ${backend.name}\n`);
  let started = performance.now();
  await backend.fill(now);
  console.log(
    `filled ${RUNS.toLocaleString('en')} runs over ${DAYS} days in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const { store } = backend;
  const aligned = (time: number, bucketMs: number, up = false) =>
    new Date((up ? Math.ceil(time / bucketMs) : Math.floor(time / bucketMs)) * bucketMs);
  const windows: [string, number, number][] = [
    ['last 24 h, 1h buckets', 24 * HOUR, HOUR],
    ['last 16 h 40 m, 1m buckets (1,000)', 1000 * 60_000, 60_000],
    ['last 7 days, 1h buckets', 7 * DAY, HOUR],
    [`all ${DAYS} days, 1d buckets`, (DAYS + 1) * DAY, DAY],
  ];
  console.log('\n| runStats | runs in the window | buckets listed | median (min, max) |');
  console.log('| --- | --- | --- | --- |');
  for (const [label, span, bucketMs] of windows) {
    const params = {
      from: aligned(now - span, bucketMs),
      to: aligned(now, bucketMs, true),
      bucketMs,
      now: new Date(now),
    };
    const stats = await store.runStats(params);
    const created = stats.buckets.reduce((sum, bucket) => sum + bucket.created, 0);
    const figure = await time(() => store.runStats(params));
    console.log(
      `| ${label} | ${created.toLocaleString('en')} created | ${stats.buckets.length} | ${figure} |`,
    );
  }

  const filters: [string, RunFilter][] = [
    ['none', {}],
    ['job', { job: 'job-3' }],
    ['createdBy', { createdBy: 'user-2' }],
    ['status=failed', { status: ['failed'] }],
    ['status=running,pending', { status: ['running', 'pending'] }],
    ['status=completed,failed', { status: ['completed', 'failed'] }],
    ['job + status=failed', { job: 'job-3', status: ['failed'] }],
    ['from = 24 h ago', { createdFrom: new Date(now - DAY) }],
    [
      'one day, 20 days ago',
      { createdFrom: new Date(now - 20 * DAY), createdTo: new Date(now - 19 * DAY) },
    ],
    [
      'q = 5-character id prefix',
      { idPrefix: (await store.runList({ limit: 1 })).runs[0]!.id.slice(0, 5) },
    ],
    ['job not stored', { job: 'job-none' }],
  ];
  console.log('\n| runList filter | first page of 50 | total (runCount up to 10,001) | total |');
  console.log('| --- | --- | --- | --- |');
  for (const [label, filter] of filters) {
    const page = await time(() => store.runList({ ...filter, limit: 50 }));
    const total = await store.runCount({ ...filter, limit: 10_001 });
    const count = await time(() => store.runCount({ ...filter, limit: 10_001 }));
    console.log(`| ${label} | ${page} | ${count} | ${total > 10_000 ? '10,000+' : total} |`);
  }

  const params = {
    from: aligned(now - DAY, HOUR).getTime(),
    to: aligned(now, HOUR, true).getTime(),
    bucketMs: HOUR,
  };
  started = performance.now();
  const plan = await backend.plan(params);
  console.log(
    `\nPlan of runStats, last 24 h in 1 h buckets (${(performance.now() - started).toFixed(1)} ms with the plan):\n`,
  );
  console.log('```\n' + plan + '\n```');
}

const wanted =
  values.sqlite || values.pg
    ? { sqlite: values.sqlite, pg: values.pg }
    : { sqlite: true, pg: true };
console.log(`# Statistics and run lists over ${RUNS.toLocaleString('en')} runs`);
console.log(
  `\n${new Date().toISOString()}, load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}, ${REPEATS} repeats after a warm-up`,
);
/** Measure on a backend, then remove its data, also when interrupted with Ctrl-C. */
async function withBackend(open: () => Promise<Backend>): Promise<void> {
  const backend = await open();
  const interrupted = () => void backend.close().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  try {
    await measure(backend);
  } finally {
    process.off('SIGINT', interrupted);
    await backend.close();
  }
}

if (wanted.sqlite) await withBackend(sqliteBackend);
if (wanted.pg) {
  if ((await postgresUp()) === null)
    console.warn(`\nPostgreSQL at ${PG_URL} is unreachable: skipped.`);
  else await withBackend(postgresBackend);
}
