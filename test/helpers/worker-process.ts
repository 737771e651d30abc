/**
 * A Jobdeck worker instance as its own OS process, for the multi-process tests (SQLite and
 * PostgreSQL):
 *
 *   node --import tsx test/helpers/worker-process.ts --db <file|postgres://…?schema=…> \
 *     --ledger <file> [--worker-id <id>] [--concurrency <n>] [--lease-ms <ms>] \
 *     [--heartbeat-ms <ms>] [--poll-ms <ms>] [--maintenance-ms <ms>] [--trace]
 *
 * It opens a `Jobdeck` on the store `--db` names (a SQLite file, or a `postgres://` URL as the CLI
 * takes it) with the ledger jobs, a worker with a short lease and fast polls, and maintenance that
 * rescues expired leases quickly; prints `ready <workerId> <pid>` once started; on SIGTERM (or when
 * its stdin closes, i.e. the parent went away) it stops, prints `stopped <workerId>` and exits 0.
 * Errors the background loops survive go to stderr as `loop-error <where> <message>` (and store
 * connection errors as `store-error <where> <message>`).
 *
 * `--trace` prints every attempt-fenced store write with its outcome, as
 * `write {"op","runId","attempt","workerId","t0","t1","outcome"}` (`outcome`: `ok`, an error code
 * such as `LEASE_LOST`, `fenced` for a batched completion the store refused with a null answer, or
 * for lease renewals `held`/`not-held`) — so a test can see what a zombie attempt tried to write.
 *
 * A line `holds? <runId>` on stdin is answered with `holds <runId> yes|no`: whether the worker
 * still runs an attempt of the run (asked, not sampled, so a short-lived attempt is never missed).
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { newWorkerId } from '../../src/core/ids.js';
import { Jobdeck } from '../../src/jobdeck.js';
import { openStore } from '../../src/store/open.js';
import type { AttemptRef, LeaseRenewal, Store } from '../../src/store/store.js';
import { ledgerJobs } from './ledger-jobs.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    ledger: { type: 'string' },
    'worker-id': { type: 'string' },
    concurrency: { type: 'string', default: '10' },
    'lease-ms': { type: 'string', default: '1500' },
    'heartbeat-ms': { type: 'string', default: '250' },
    'poll-ms': { type: 'string', default: '50' },
    'maintenance-ms': { type: 'string', default: '200' },
    trace: { type: 'boolean', default: false },
  },
});

if (!values.db || !values.ledger) {
  process.stderr.write('usage: worker-process.ts --db <file|url> --ledger <file> [options]\n');
  process.exit(2);
}

const workerId = values['worker-id'] ?? newWorkerId();
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
const opened = openStore(values.db, {
  onError: (err, where) => process.stderr.write(`store-error ${where} ${message(err)}\n`),
});
const store = values.trace ? traced(opened) : opened;
const pollMs = Number(values['poll-ms']);
const deck = new Jobdeck({
  store,
  jobs: ledgerJobs({ ledgerPath: values.ledger, workerId }),
  worker: {
    workerId,
    concurrency: Number(values.concurrency),
    leaseMs: Number(values['lease-ms']),
    heartbeatMs: Number(values['heartbeat-ms']),
    pollMs,
    cancelPollMs: pollMs,
  },
  scheduler: false,
  maintenance: { intervalMs: Number(values['maintenance-ms']) },
  onError: (err, where) => {
    process.stderr.write(`loop-error ${where} ${message(err)}\n`);
  },
});

/** The store, with every attempt-fenced write printed as a `write {…}` line. */
function traced(inner: Store): Store {
  const print = (op: string, ref: AttemptRef, t0: number, outcome: string) =>
    process.stdout.write(
      `write ${JSON.stringify({ op, runId: ref.id, attempt: ref.attempt, workerId: ref.workerId, t0, t1: Date.now(), outcome })}\n`,
    );
  const fenced = async <T>(op: string, ref: AttemptRef | undefined, call: () => Promise<T>) => {
    const t0 = Date.now();
    try {
      const result = await call();
      if (ref) print(op, ref, t0, 'ok');
      return result;
    } catch (err) {
      if (ref) print(op, ref, t0, (err as { code?: string }).code ?? message(err));
      throw err;
    }
  };
  const wrapped: Partial<Store> = {
    runFinishIfAttempt: (params) =>
      fenced('runFinishIfAttempt', params.ref, () => inner.runFinishIfAttempt(params)),
    runProgressSet: (params) =>
      fenced('runProgressSet', params.ref, () => inner.runProgressSet(params)),
    runCompleteMany: async (params) => {
      const t0 = Date.now();
      const stored = await inner.runCompleteMany(params);
      // The batched completion refuses a fenced attempt with a null answer instead of LEASE_LOST.
      params.runs.forEach(({ ref }, i) =>
        print('runCompleteMany', ref, t0, stored[i] ? 'ok' : 'fenced'),
      );
      return stored;
    },
    itemsUpsert: (params) => fenced('itemsUpsert', params.ref, () => inner.itemsUpsert(params)),
    stepSave: (params) => fenced('stepSave', params.ref, () => inner.stepSave(params)),
    logAppend: (params) => fenced('logAppend', params.ref, () => inner.logAppend(params)),
    leaseRenew: async (params) => {
      const t0 = Date.now();
      const renewals: LeaseRenewal[] = await inner.leaseRenew(params);
      for (const renewal of renewals) {
        const ref = { id: renewal.id, attempt: renewal.attempt, workerId: params.workerId };
        print('leaseRenew', ref, t0, renewal.held ? 'held' : 'not-held');
      }
      return renewals;
    },
  };
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (typeof key === 'string' && key in wrapped) return wrapped[key as keyof Store];
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

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
createInterface({ input: process.stdin }).on('line', (line) => {
  const asked = /^holds\? (\S+)$/.exec(line);
  if (asked) {
    const runId = asked[1]!;
    process.stdout.write(`holds ${runId} ${deck.worker?.holds(runId) ? 'yes' : 'no'}\n`);
  }
});

await deck.start();
process.stdout.write(`ready ${workerId} ${process.pid}\n`);
