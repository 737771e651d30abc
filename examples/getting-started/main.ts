import { Jobdeck, SqliteStore } from 'jobdeck';
import { report } from './jobs.js';

const deck = await new Jobdeck({
  store: new SqliteStore({ path: './.jobdeck/jobdeck.db' }),
  jobs: [report],
  worker: { concurrency: 10 },
}).start();

const { run } = await deck.runs.create({
  job: 'report.monthly',
  input: { customerId: 'c1', months: 6 },
});
console.log(`created ${run.id}`);

let shown = '';
deck.events.on('run.progress', ({ payload: { run } }) => {
  const line = run.progress && `${run.id}: ${run.progress.processed}/${run.progress.total} months`;
  if (line && line !== shown) console.log((shown = line));
});
const finished = await deck.runs.wait(run.id, { timeoutMs: 60_000 });
console.log(`${finished.id} ${finished.status}: ${JSON.stringify(finished.result)}`);

const { run: long } = await deck.runs.create({
  job: 'report.monthly',
  input: { customerId: 'c2', months: 24 },
});
await deck.events.waitFor('run.progress', ({ run }) => run.id === long.id);
await deck.cancels.cancel(long.id, { mode: 'graceful', reason: 'customer asked' });
const stopped = await deck.runs.wait(long.id);
console.log(`${stopped.id} ${stopped.status} after ${stopped.progress?.processed} of 24 months`);

// Stop the worker (running runs get 10 s to finish) and close the store: the script ends.
await deck.close();
