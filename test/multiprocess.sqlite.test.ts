/**
 * Several real OS processes sharing one real SQLite file: worker processes
 * (test/helpers/worker-process.ts) execute runs, this process creates, cancels and reads them
 * through its own `Jobdeck` without a worker. Nothing here sleeps to synchronise: it waits on
 * child output, on the ledger file the handlers write, or on the store, always with a deadline.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { SYSTEM_PRINCIPAL } from '../src/core/glossary.js';
import type { Run, StoredLogEntry } from '../src/core/run.js';
import { isTerminal } from '../src/core/status.js';
import { Jobdeck } from '../src/jobdeck.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import {
  LEDGER_JOB,
  ledgerJobs,
  readLedger,
  type LedgerInput,
  type LedgerLine,
  type LedgerResult,
} from './helpers/ledger-jobs.js';
import { attemptsOf, overlappingAttempts } from './helpers/ledger-check.js';
import { pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/temp.js';

const CWD = join(import.meta.dirname, '..');
const SCRIPT = 'test/helpers/worker-process.ts';
const LEASE_MS = 1500;
const TEST_TIMEOUT = 60_000;
/** Starting a child (node + tsx + better-sqlite3) can be slow on a loaded machine. */
const START_TIMEOUT = 20_000;

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** A worker process and what it printed. */
class WorkerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly workerId: string,
    args: string[],
  ) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', SCRIPT, '--worker-id', workerId, ...args],
      { cwd: CWD, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.notify();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolve with the first stdout line matching `pattern`; reject if the process exits first or time runs out. */
  waitForLine(pattern: RegExp, timeoutMs = START_TIMEOUT): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => {
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match) {
            done();
            resolve(match);
            return;
          }
        }
        if (this.exit) {
          done();
          reject(
            new Error(
              `worker ${this.workerId} exited (${JSON.stringify(this.exit)}) before printing ${pattern}; stderr: ${this.stderr}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `worker ${this.workerId} printed no ${pattern} within ${timeoutMs} ms; stdout: ${this.lines.join(' | ')}; stderr: ${this.stderr}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async ready(): Promise<this> {
    const [, id, pid] = await this.waitForLine(/^ready (\S+) (\d+)$/);
    expect(id).toBe(this.workerId);
    expect(Number(pid)).toBe(this.pid);
    return this;
  }

  /** Send `signal` and wait for the exit (SIGKILL after `timeoutMs` if it does not come). */
  async kill(signal: NodeJS.Signals, timeoutMs = 15_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const result = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (result !== 'late') return result;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

interface Harness {
  dir: string;
  dbPath: string;
  ledgerPath: string;
  /** This process's instance: no worker, no scheduler, no maintenance — it only creates, cancels and reads. */
  deck: Jobdeck;
  spawnWorker(workerId: string, extraArgs?: string[]): Promise<WorkerProcess>;
  ledger(): LedgerLine[];
  createRun(input: LedgerInput): Promise<Run>;
  waitForStatus(id: string, statuses: Run['status'][], timeoutMs?: number): Promise<Run>;
  logs(id: string): Promise<StoredLogEntry[]>;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  // Children first (always, even when the test failed), then the deck, then the folder.
  const errors: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});

async function harness(): Promise<Harness> {
  const { dir, cleanup } = tempDir('jobdeck-mp-');
  cleanups.push(cleanup);
  const dbPath = join(dir, 'jobdeck.db');
  const ledgerPath = join(dir, 'ledger.jsonl');
  const deck = new Jobdeck({
    store: new SqliteStore({ path: dbPath }),
    // Only the definitions matter here (to validate inputs); this process runs no handler.
    jobs: ledgerJobs({ ledgerPath, workerId: 'test-process' }),
    worker: false,
    scheduler: false,
    maintenance: false,
  });
  // Migrate before any child opens the file.
  await deck.start();
  cleanups.push(() => deck.close());
  const children: WorkerProcess[] = [];
  cleanups.push(async () => {
    await Promise.all(children.map((child) => child.kill('SIGKILL')));
  });
  return {
    dir,
    dbPath,
    ledgerPath,
    deck,
    async spawnWorker(workerId, extraArgs = []) {
      const worker = new WorkerProcess(workerId, [
        '--db',
        dbPath,
        '--ledger',
        ledgerPath,
        '--lease-ms',
        String(LEASE_MS),
        ...extraArgs,
      ]);
      children.push(worker);
      return worker.ready();
    },
    ledger: () => readLedger(ledgerPath),
    async createRun(input) {
      const { run, created } = await deck.runs.create({ job: LEDGER_JOB, input });
      expect(created).toBe(true);
      return run;
    },
    waitForStatus(id, statuses, timeoutMs = 30_000) {
      return pollUntil(
        async () => {
          const run = await deck.runs.get(id);
          return statuses.includes(run.status) ? run : undefined;
        },
        { timeoutMs, intervalMs: 25, what: `run ${id} to be ${statuses.join('|')}` },
      );
    },
    logs: (id) => deck.runs.logs(id),
  };
}

function cancelDelivered(logs: StoredLogEntry[]): StoredLogEntry[] {
  return logs.filter((entry) => entry.message === 'cancel delivered');
}

describe('several processes on one SQLite file', () => {
  it(
    'two worker processes share the runs: every run completes, attempts never overlap, each run works once',
    async () => {
      const h = await harness();
      // A low per-process concurrency makes both processes take runs.
      const [a, b] = await Promise.all([
        h.spawnWorker('worker-a', ['--concurrency', '4']),
        h.spawnWorker('worker-b', ['--concurrency', '4']),
      ]);
      const total = 40;
      const created: Run[] = [];
      for (let i = 0; i < total; i++) {
        created.push(await h.createRun({ steps: 1, stepMs: 20 + (i % 5) * 20 }));
      }
      const ids = created.map((run) => run.id);

      const finished = await pollUntil(
        async () => {
          const { runs } = await h.deck.store.runList({ ids, limit: total, cursor: null });
          return runs.length === total && runs.every((run) => isTerminal(run.status))
            ? runs
            : undefined;
        },
        { timeoutMs: 40_000, intervalMs: 50, what: `all ${total} runs to finish` },
      );

      // The ledger: no overlap between attempts of a run, and exactly one start and one end per run,
      // both by the worker the store says ran it.
      const ledger = h.ledger();
      expect(overlappingAttempts(ledger)).toEqual([]);
      const byId = new Map(finished.map((run) => [run.id, run]));
      for (const id of ids) {
        const attempts = attemptsOf(ledger, id);
        expect([...attempts.keys()], `attempts of ${id}`).toEqual([1]);
        const lines = attempts.get(1)!;
        expect(lines.map((line) => line.event)).toEqual(['start', 'step-start', 'step-end', 'end']);
        expect(new Set(lines.map((line) => line.workerId))).toEqual(
          new Set([byId.get(id)!.workerId]),
        );
      }
      expect(ledger.filter((line) => line.event === 'start')).toHaveLength(total);
      // Both processes took part, so the runs were really shared across processes.
      expect(new Set(ledger.map((line) => line.workerId))).toEqual(
        new Set([a.workerId, b.workerId]),
      );
      expect(new Set(ledger.map((line) => line.pid))).toEqual(new Set([a.pid, b.pid]));

      // Every run completed, on its first attempt, by one of the two workers.
      expect(finished.map((run) => run.status)).toEqual(Array(total).fill('completed'));
      expect(
        finished.filter((run) => run.attempt !== 1).map((run) => [run.id, run.attempt]),
      ).toEqual([]);
      for (const run of finished) {
        expect([a.workerId, b.workerId]).toContain(run.workerId);
        const result = run.result as LedgerResult;
        expect(result.workerId).toBe(run.workerId);
        expect(result.attempt).toBe(1);
      }

      // Both stop cleanly, and neither reported an error from its loops (busy file, failed claim…).
      expect(await a.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(await b.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(a.lines).toContain(`stopped ${a.workerId}`);
      expect(b.lines).toContain(`stopped ${b.workerId}`);
      expect(a.stderr + b.stderr).toBe('');
    },
    TEST_TIMEOUT,
  );

  it(
    'a graceful cancel from this process reaches the run in a worker process: the current step finishes, no new step starts',
    async () => {
      const h = await harness();
      const worker = await h.spawnWorker('worker-graceful');
      const steps = 3;
      const stepMs = 3000;
      const run = await h.createRun({ steps, stepMs });

      await pollUntil(
        () => h.ledger().some((line) => line.runId === run.id && line.event === 'step-start'),
        { timeoutMs: 20_000, what: 'the first step to start' },
      );
      const asked = await h.deck.cancels.cancel(
        run.id,
        { mode: 'graceful', reason: 'test stop' },
        SYSTEM_PRINCIPAL,
      );
      expect(asked.action).toBe('request');
      expect(asked.run.status).toBe('cancelling');
      expect(asked.run.workerId).toBe(worker.workerId);
      const requestedAt = asked.run.cancel!.requestedAt.getTime();

      const ended = await h.waitForStatus(run.id, ['cancelled', 'partial', 'completed', 'failed']);
      expect(ended.status).toBe('cancelled');
      expect(ended.attempt).toBe(1);
      expect(ended.cancel).toMatchObject({
        mode: 'graceful',
        reason: 'test stop',
        requestedBy: SYSTEM_PRINCIPAL.name,
      });
      // The finished step's progress was kept.
      expect(ended.progress).toMatchObject({ processed: 1, total: steps });

      // The worker process logged the delivery, once, after the request.
      const logs = await h.logs(run.id);
      const delivered = cancelDelivered(logs);
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).toMatchObject({
        level: 'info',
        message: 'cancel delivered',
        data: { mode: 'graceful' },
      });
      const deliveredAt = delivered[0]!.time.getTime();
      expect(deliveredAt).toBeGreaterThanOrEqual(requestedAt);
      expect(deliveredAt - requestedAt).toBeLessThan(stepMs);

      // The step that was running when the cancel arrived finished after it, and no step started since.
      const lines = attemptsOf(h.ledger(), run.id).get(1)!;
      expect(lines.map((line) => `${line.event}${line.step ?? ''}`)).toEqual([
        'start',
        'step-start0',
        'step-end0',
        'stopped',
      ]);
      expect(lines.every((line) => line.workerId === worker.workerId)).toBe(true);
      expect(lines[2]!.t).toBeGreaterThanOrEqual(deliveredAt);
      expect(lines[3]!.error).toMatch(/cancel/i);
      // The store's log tells the same story: the step finished after the delivery.
      const stepFinished = logs.find((entry) => entry.message === 'step finished');
      expect(stepFinished?.data).toEqual({ step: 0 });
      expect(stepFinished!.seq).toBeGreaterThan(delivered[0]!.seq);
      expect(logs.filter((entry) => entry.message === 'step started')).toHaveLength(1);

      expect(await worker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(worker.stderr).toBe('');
    },
    TEST_TIMEOUT,
  );

  it(
    'a force cancel from this process aborts the run in a worker process at once and frees its slot',
    async () => {
      const h = await harness();
      // One slot: a follow-up run can only start once the force-cancelled handler let go of it.
      const worker = await h.spawnWorker('worker-force', ['--concurrency', '1']);
      const stepMs = 30_000;
      const run = await h.createRun({ steps: 3, stepMs });

      await pollUntil(
        () => h.ledger().some((line) => line.runId === run.id && line.event === 'step-start'),
        { timeoutMs: 20_000, what: 'the first step to start' },
      );
      const asked = await h.deck.cancels.cancel(
        run.id,
        { mode: 'force', reason: 'test kill' },
        SYSTEM_PRINCIPAL,
      );
      expect(asked.action).toBe('force');
      // Forced: cancelled in the store at once, whoever runs the handler.
      expect(asked.run.status).toBe('cancelled');
      const requestedAt = asked.run.cancel!.requestedAt.getTime();

      // The worker process learns of it, logs the delivery and its handler stops mid-step.
      const delivered = await pollUntil(
        async () => {
          const found = cancelDelivered(await h.logs(run.id));
          return found.length > 0 ? found : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 25, what: 'the cancel delivery log' },
      );
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).toMatchObject({
        level: 'info',
        message: 'cancel delivered',
        data: { mode: 'force' },
      });
      const deliveredAt = delivered[0]!.time.getTime();
      expect(deliveredAt).toBeGreaterThanOrEqual(requestedAt);
      expect(deliveredAt - requestedAt).toBeLessThan(5000);

      const stopped = await pollUntil(
        () =>
          h.ledger().find((line) => line.runId === run.id && line.event === 'stopped') ?? undefined,
        { timeoutMs: 10_000, what: 'the handler to stop' },
      );
      expect(stopped.workerId).toBe(worker.workerId);
      expect(stopped.t - requestedAt).toBeLessThan(stepMs / 2);

      // The slot is free again: the next run starts and completes on the same worker.
      const next = await h.createRun({ steps: 1, stepMs: 10 });
      const nextEnded = await h.waitForStatus(next.id, ['completed', 'failed', 'cancelled']);
      expect(nextEnded.status).toBe('completed');
      expect(nextEnded.workerId).toBe(worker.workerId);

      // The forced run stays cancelled, its step never finished, and it was not retried.
      const ended = await h.deck.runs.get(run.id);
      expect(ended.status).toBe('cancelled');
      expect(ended.attempt).toBe(1);
      expect(ended.finishedAt).not.toBeNull();
      expect(ended.cancel).toMatchObject({ mode: 'force', reason: 'test kill' });
      const lines = attemptsOf(h.ledger(), run.id);
      expect([...lines.keys()]).toEqual([1]);
      expect(lines.get(1)!.map((line) => `${line.event}${line.step ?? ''}`)).toEqual([
        'start',
        'step-start0',
        'stopped',
      ]);

      expect(await worker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(worker.stderr).toBe('');
    },
    TEST_TIMEOUT,
  );

  it(
    'runs of a worker process killed with SIGKILL are recovered by another process once their leases expire',
    async () => {
      const h = await harness();
      const doomed = await h.spawnWorker('worker-doomed');
      const count = 3;
      // Long on the first attempt (the doomed worker must still be in them when killed), short after.
      const runs: Run[] = [];
      for (let i = 0; i < count; i++)
        runs.push(await h.createRun({ steps: 1, stepMs: 60_000, retryStepMs: 50 }));
      const ids = runs.map((run) => run.id);

      await pollUntil(
        () => {
          const started = h
            .ledger()
            .filter((line) => line.event === 'step-start' && line.workerId === doomed.workerId);
          return new Set(started.map((line) => line.runId)).size === count;
        },
        { timeoutMs: 20_000, what: `the doomed worker to start all ${count} runs` },
      );
      const survivor = await h.spawnWorker('worker-survivor');

      const killedAt = Date.now();
      expect(await doomed.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const deadBy = Date.now();
      // Final now that its holder is dead: nobody may take the runs before this.
      const held = await h.deck.store.runList({ ids, limit: count, cursor: null });
      expect(held.runs.map((run) => [run.status, run.attempt, run.workerId])).toEqual(
        Array(count).fill(['running', 1, doomed.workerId]),
      );
      const leaseEnds = new Map(held.runs.map((run) => [run.id, run.leaseExpiresAt!.getTime()]));

      const finished = await pollUntil(
        async () => {
          const { runs: now } = await h.deck.store.runList({ ids, limit: count, cursor: null });
          return now.every((run) => isTerminal(run.status)) ? now : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: 'the runs to be recovered and finished' },
      );

      // Nothing lost: the same runs, all completed on their second attempt by the survivor.
      const { runs: all } = await h.deck.runs.list({ limit: 500 });
      expect(all.map((run) => run.id).sort()).toEqual([...ids].sort());
      for (const run of finished) {
        expect(run.status).toBe('completed');
        expect(run.attempt).toBe(2);
        expect(run.workerId).toBe(survivor.workerId);
        expect(run.lastError?.code).toBe('WORKER_LOST');
        expect((run.result as LedgerResult).attempt).toBe(2);
        // Taken only after the dead worker's lease ran out.
        expect(run.startedAt!.getTime()).toBeGreaterThan(leaseEnds.get(run.id)!);
      }

      const ledger = h.ledger();
      // The dead worker's attempts ended with it; none overlaps the survivor's.
      expect(overlappingAttempts(ledger, new Map([[doomed.workerId, deadBy]]))).toEqual([]);
      // Without that knowledge the open first attempts would overlap: the check can fail.
      expect(overlappingAttempts(ledger)).toHaveLength(count);
      for (const id of ids) {
        const attempts = attemptsOf(ledger, id);
        expect([...attempts.keys()].sort()).toEqual([1, 2]);
        const first = attempts.get(1)!;
        const second = attempts.get(2)!;
        // The first attempt died mid-step; the second ran whole, after the kill and the lease.
        expect(first.map((line) => line.event)).toEqual(['start', 'step-start']);
        expect(first.every((line) => line.workerId === doomed.workerId)).toBe(true);
        expect(second.map((line) => line.event)).toEqual([
          'start',
          'step-start',
          'step-end',
          'end',
        ]);
        expect(second.every((line) => line.workerId === survivor.workerId)).toBe(true);
        expect(second[0]!.t).toBeGreaterThanOrEqual(killedAt);
        expect(second[0]!.t).toBeGreaterThan(leaseEnds.get(id)!);
      }

      expect(await survivor.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(survivor.stderr).toBe('');
    },
    TEST_TIMEOUT,
  );
});
