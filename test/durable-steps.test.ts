/**
 * Durable steps across a crash, on each backend: a worker process is SIGKILLed during step 4 of a
 * run of five steps; another worker process takes the run over once its lease has expired and
 * completes it, and an external ledger (a file each step appends to as it starts) shows that steps
 * 1–3 were not run again. Workers are test/helpers/worker-process.ts with the ledger jobs.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_PRINCIPAL } from '../src/core/glossary.js';
import { Jobdeck } from '../src/jobdeck.js';
import { openStore } from '../src/store/open.js';
import { LEDGER_JOB, ledgerJobs, readLedger, type LedgerResult } from './helpers/ledger-jobs.js';
import { InstanceSet, dropSchema, schemaUrl, scriptWorkerReady } from './helpers/pg-instances.js';
import { pollUntil } from './helpers/poll.js';
import { PG_URL, freshSchema, postgresReachable } from './helpers/postgres.js';
import { tempDir } from './helpers/temp.js';

const reachable = await postgresReachable();
const instances = new InstanceSet();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await instances.killAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh database of the backend: a SQLite file, or a PostgreSQL schema of its own. */
function freshDatabase(backend: 'sqlite' | 'postgres', dir: string): string {
  if (backend === 'sqlite') return join(dir, 'jobdeck.db');
  const schema = freshSchema();
  cleanups.push(() => dropSchema(PG_URL, schema));
  return schemaUrl(PG_URL, schema);
}

const backends = [
  { backend: 'sqlite' as const, run: true },
  { backend: 'postgres' as const, run: reachable },
];

describe('durable steps survive a crash', () => {
  for (const { backend, run: enabled } of backends) {
    it.skipIf(!enabled)(
      `${backend}: a worker killed during step 4 of 5; the next completes the run without running steps 1–3 again`,
      { timeout: 90_000 },
      async () => {
        const { dir, cleanup } = tempDir('jobdeck-steps-');
        cleanups.push(cleanup);
        const db = freshDatabase(backend, dir);
        const ledgerPath = join(dir, 'ledger.jsonl');
        const workerArgs = [
          '--db',
          db,
          '--ledger',
          ledgerPath,
          '--lease-ms',
          '1000',
          '--heartbeat-ms',
          '200',
          '--maintenance-ms',
          '200',
        ];
        const first = await scriptWorkerReady(instances.scriptWorker('worker-a', workerArgs));
        // The test's own instance creates and reads; it runs nothing.
        const deck = new Jobdeck({
          store: openStore(db),
          jobs: ledgerJobs({ ledgerPath, workerId: 'test' }),
          worker: false,
          scheduler: false,
          maintenance: false,
        });
        await deck.start();
        cleanups.push(() => deck.close());
        const { run } = await deck.runs.create({
          job: LEDGER_JOB,
          input: { steps: 5, stepMs: 300 },
          principal: SYSTEM_PRINCIPAL,
        });
        const startsOf = () =>
          readLedger(ledgerPath).filter((l) => l.runId === run.id && l.event === 'step-start');
        // Step 4 (index 3) is under way in the first worker: kill it there.
        await pollUntil(() => startsOf().some((l) => l.step === 3) || undefined, {
          what: 'step 4 to start',
        });
        await first.kill('SIGKILL');
        await scriptWorkerReady(instances.scriptWorker('worker-b', workerArgs));
        const done = await pollUntil(
          async () => {
            const stored = await deck.runs.get(run.id);
            return stored.status === 'completed' || stored.status === 'failed' ? stored : undefined;
          },
          { what: 'the run to end on the second worker', timeoutMs: 60_000 },
        );
        expect(done).toMatchObject({ status: 'completed', attempt: 2 });
        expect((done.result as LedgerResult).workerId).toBe('worker-b');
        // How often each step's function was called, from the ledger.
        const calls = [0, 0, 0, 0, 0];
        for (const line of startsOf()) calls[line.step!]!++;
        expect(calls).toEqual([1, 1, 1, 2, 1]);
        expect((await deck.runs.steps(run.id)).map((s) => [s.name, s.status, s.attempt])).toEqual([
          ['step-0', 'completed', 1],
          ['step-1', 'completed', 1],
          ['step-2', 'completed', 1],
          ['step-3', 'completed', 2],
          ['step-4', 'completed', 2],
        ]);
      },
    );
  }
});
