/**
 * A Jobdeck worker instance as its own OS process, for the multi-process SQLite tests:
 *
 *   node --import tsx test/helpers/worker-process.ts --db <file> --ledger <file> \
 *     [--worker-id <id>] [--concurrency <n>] [--lease-ms <ms>]
 *
 * It opens a `Jobdeck` on the SQLite file with the ledger jobs, a worker with a short lease and
 * fast polls, and maintenance that rescues expired leases quickly; prints `ready <workerId> <pid>`
 * once started; on SIGTERM (or when its stdin closes, i.e. the parent went away) it stops, prints
 * `stopped <workerId>` and exits 0. Errors the background loops survive go to stderr as
 * `loop-error <where> <message>`.
 */
import { parseArgs } from 'node:util';
import { newWorkerId } from '../../src/core/ids.js';
import { Jobdeck } from '../../src/jobdeck.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ledgerJobs } from './ledger-jobs.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    ledger: { type: 'string' },
    'worker-id': { type: 'string' },
    concurrency: { type: 'string', default: '10' },
    'lease-ms': { type: 'string', default: '1500' },
    'heartbeat-ms': { type: 'string', default: '250' },
  },
});

if (!values.db || !values.ledger) {
  process.stderr.write('usage: worker-process.ts --db <file> --ledger <file> [options]\n');
  process.exit(2);
}

const workerId = values['worker-id'] ?? newWorkerId();
const deck = new Jobdeck({
  store: new SqliteStore({ path: values.db }),
  jobs: ledgerJobs({ ledgerPath: values.ledger, workerId }),
  worker: {
    workerId,
    concurrency: Number(values.concurrency),
    leaseMs: Number(values['lease-ms']),
    heartbeatMs: Number(values['heartbeat-ms']),
    pollMs: 50,
    cancelPollMs: 50,
  },
  scheduler: false,
  maintenance: { intervalMs: 200 },
  onError: (err, where) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`loop-error ${where} ${message}\n`);
  },
});

let stopping: Promise<void> | null = null;
function shutdown(): Promise<void> {
  stopping ??= (async () => {
    try {
      await deck.close({ graceMs: 2000 });
      // Pipes are written synchronously on Linux, so the line is out before the exit.
      process.stdout.write(`stopped ${workerId}\n`);
      process.exit(0);
    } catch (err) {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    }
  })();
  return stopping;
}

process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
// The parent holds our stdin: when it goes away (even killed), stop instead of living on as an orphan.
process.stdin.on('end', () => void shutdown());
process.stdin.resume();

await deck.start();
process.stdout.write(`ready ${workerId} ${process.pid}\n`);
