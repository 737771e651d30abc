// Many runs at once, each checked on its own.
// Run: node --import tsx examples/getting-started/many.ts
import { Jobdeck, SqliteStore } from 'jobdeck';
import { report } from './jobs.js';

const deck = await new Jobdeck({
  store: new SqliteStore({ path: './.jobdeck/jobdeck.db' }),
  jobs: [report],
}).start();

const results = await deck.runs.createMany([
  { job: 'report.monthly', input: { customerId: 'c1', months: 2 } },
  { job: 'report.monthly', input: { customerId: 'c2', months: 3 }, idempotencyKey: 'c2-june' },
  { job: 'report.monthly', input: { customerId: 'c2', months: 3 }, idempotencyKey: 'c2-june' },
  { job: 'report.monthly', input: { customerId: 'c3', months: 'six' } },
]);
for (const result of results) {
  if ('error' in result) console.log(`refused: ${result.error.code} ${result.error.message}`);
  else console.log(`${result.created ? 'created' : 'already there'} ${result.run.id}`);
}

// The runs it made, once they have finished.
for (const result of results) {
  if (!('run' in result) || !result.created) continue;
  const finished = await deck.runs.wait(result.run.id, { timeoutMs: 60_000 });
  console.log(`${finished.id} ${finished.status}`);
}
await deck.close();
