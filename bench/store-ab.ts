/**
 * The store's hot path on PostgreSQL (claim 16 runs, complete them) for two or more code trees,
 * interleaved batch by batch so a loaded machine weighs on every variant alike (not part of
 * `npm run bench`):
 *
 *   npx tsx bench/store-ab.ts <tree>[:notrig|:noopfn|:simplefn][:drop=index,index] ...
 *
 * `<tree>` is a checkout (for example a `git worktree` of an older commit); `notrig` disables the
 * runs' event triggers, `noopfn` keeps them but makes their function write nothing (what capturing
 * the changed rows costs), `simplefn` makes it insert one row per changed run without comparing
 * old and new (what the event rows themselves cost), and `drop=` drops indexes after migrating.
 * Prints the median time per batch of each variant and its ratio to the first.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PG_URL } from './lib/env.js';
import type { Store } from '../src/store/store.js';

const BATCH = 16;
const BATCHES = 150;
const variants = process.argv.slice(2);
if (variants.length === 0) throw new Error('usage: store-ab.ts <tree>[:notrig][:drop=a,b] ...');

const stores: { store: Store & { dropSchema(): Promise<void> }; schema: string }[] = [];
for (const [i, variant] of variants.entries()) {
  const [tree, ...options] = variant.split(':');
  const { PostgresStore } = (await import(`${tree}/src/store/postgres/postgres-store.ts`)) as {
    PostgresStore: new (o: object) => Store & { dropSchema(): Promise<void> };
  };
  const schema = `store_ab_${i}_${process.pid}`;
  const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
  await store.migrate();
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const option of options) {
    if (option === 'notrig')
      await client.query(`ALTER TABLE ${schema}.jobdeck_runs DISABLE TRIGGER jobdeck_runs_changed`);
    else if (option === 'noopfn')
      await client.query(
        `CREATE OR REPLACE FUNCTION ${schema}.jobdeck_runs_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
      );
    else if (option === 'simplefn')
      await client.query(
        `CREATE OR REPLACE FUNCTION ${schema}.jobdeck_runs_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${schema}.jobdeck_events (name, job, run_id, status) SELECT 'x', n.job, n.id, n.status FROM new_runs n; RETURN NULL; END $$`,
      );
    else if (option.startsWith('drop='))
      for (const index of option.slice(5).split(','))
        await client.query(`DROP INDEX ${schema}.${index}`);
    else throw new Error(`unknown option ${option}`);
  }
  await client.end();
  stores.push({ store, schema });
}

const now = new Date();
for (const { store } of stores)
  for (let k = 0; k < BATCH * BATCHES; k++)
    await store.runInsert({
      id: randomUUID(),
      job: 'ab',
      input: {},
      priority: 0,
      runAt: now,
      maxAttempts: 1,
      createdBy: 'bench',
      trigger: 'api',
      idempotencyKey: null,
      expireAt: null,
      retentionMs: 86_400_000,
      retryOf: null,
      now,
      exclusive: false,
    });

const times: number[][] = stores.map(() => []);
for (let batch = 0; batch < BATCHES; batch++) {
  const order = stores.map((_, i) => i).sort(() => Math.random() - 0.5);
  for (const i of order) {
    const { store } = stores[i]!;
    const started = performance.now();
    const claimed = await store.runClaim({
      workerId: 'ab',
      now: new Date(),
      leaseMs: 60_000,
      limit: BATCH,
      jobs: [{ name: 'ab', concurrency: null }],
    });
    await store.runCompleteMany({
      now: new Date(),
      runs: claimed.map((run) => ({
        ref: { id: run.id, attempt: run.attempt, workerId: 'ab' },
        result: null,
      })),
    });
    times[i]!.push(performance.now() - started);
    if (claimed.length !== BATCH) throw new Error(`claimed ${claimed.length} of ${BATCH}`);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
for (const [i, variant] of variants.entries()) {
  const ms = median(times[i]!);
  const ratio = ms / median(times[0]!);
  console.log(`${variant}: median ${ms.toFixed(2)} ms per batch, ${ratio.toFixed(2)}× the first`);
}
for (const { store } of stores) {
  await store.dropSchema();
  await store.close();
}
