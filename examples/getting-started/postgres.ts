// The getting-started job on PostgreSQL, with the pool set by hand.
// Run: DATABASE_URL=postgres://user@host/db node --import tsx examples/getting-started/postgres.ts
import { Jobdeck, PostgresStore } from 'jobdeck';
import { report } from './jobs.js';

const store = new PostgresStore({
  connectionString: process.env.DATABASE_URL!,
  poolSize: 20, // connections of this instance
  connectionTimeoutMs: 3_000, // opening one
  maxWaiting: 10_000, // requests waiting for a free one
  waitTimeoutMs: 10_000, // how long each may wait
  statementTimeoutMs: 30_000,
  schema: 'jobdeck',
  applicationName: 'billing-worker', // in pg_stat_activity
});
const deck = new Jobdeck({ store, jobs: [report] });

await deck.start();
const { run } = await deck.runs.create({
  job: 'report.monthly',
  input: { customerId: 'c3', months: 2 },
});
const finished = await deck.runs.wait(run.id, { timeoutMs: 60_000 });
console.log(`${finished.id} ${finished.status} on PostgreSQL: ${JSON.stringify(finished.result)}`);
await deck.close();
