import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach } from 'vitest';
import type { Run } from '../../src/core/run.js';
import type { RunStatus } from '../../src/core/status.js';
import { Jobdeck, type JobdeckOptions } from '../../src/jobdeck.js';
import type { JobContext } from '../../src/jobs/context.js';
import { defineJob, type JobDefinition } from '../../src/jobs/define.js';
import type { Store } from '../../src/store/store.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';

/** One test's database, which several instances of the application may open. */
export interface RuntimeDatabase {
  /** A new store over this database, as another process of the application would open it. */
  openStore(): Store;
  /**
   * Hold the run's row lock from a session of its own, so that the application's writes of that
   * run wait. Only where waiting for a lock leaves the event loop free (PostgreSQL); scenarios
   * that need it are registered only then.
   */
  lockRun?(runId: string): Promise<RowLock>;
  /** Throw the database away (the instances close their own stores first). */
  cleanup(): Promise<void>;
}

/** A row lock held by a session outside the application. */
export interface RowLock {
  /** How many sessions of the application wait for it. */
  waiting(): Promise<number>;
  /** End those sessions, as a dropped connection would; how many were ended. */
  terminateWaiting(): Promise<number>;
  release(): Promise<void>;
}

/** Opens a fresh, empty database for one test. */
export type MakeRuntimeDatabase = () => Promise<RuntimeDatabase>;

/** What every scenario file is given. */
export interface RuntimeConformanceContext {
  makeDatabase: MakeRuntimeDatabase;
  /** The databases it makes offer `lockRun`. */
  rowLocks: boolean;
}

/** Fast loops, so scenarios wait milliseconds for what takes seconds in production. */
export const FAST_WORKER = { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000 };
/** A worker whose heartbeats and cancel poll stay out of a scenario's way. */
export const QUIET_WORKER = {
  pollMs: 20,
  cancelPollMs: 60_000,
  heartbeatMs: 60_000,
  leaseMs: 120_000,
};

export const admin = { name: 'root', role: 'admin' as const };
export const operator = { name: 'alice', role: 'operator' as const };

/** The instances of one test, over its database. */
export interface Instances {
  db: RuntimeDatabase;
  /** A started instance over the test's database (scheduler off unless asked); closed after the test. */
  open(
    jobs: JobDefinition[],
    options?: Partial<Omit<JobdeckOptions, 'store' | 'jobs'>>,
  ): Promise<Jobdeck>;
  /** Wait until the run has one of the statuses, and return it. */
  waitForStatus(deck: Jobdeck, id: string, ...statuses: RunStatus[]): Promise<Run>;
}

/** A fresh database per test (beforeEach); its instances closed and the database dropped after it. */
export function useInstances(makeDatabase: MakeRuntimeDatabase): () => Instances {
  let db: RuntimeDatabase | undefined;
  let decks: Jobdeck[] = [];
  beforeEach(async () => {
    db = await makeDatabase();
  });
  afterEach(async () => {
    const opened = decks;
    decks = [];
    // Instances without a worker first, so workers release what they hold last.
    for (const deck of opened.reverse()) await deck.close({ graceMs: 1000 });
    const done = db;
    db = undefined;
    await done?.cleanup();
  });
  const instances: Instances = {
    get db() {
      if (!db) throw new Error('the database exists only while a test runs');
      return db;
    },
    async open(jobs, options = {}) {
      const deck = new Jobdeck({
        store: instances.db.openStore(),
        jobs,
        worker: FAST_WORKER,
        maintenance: { intervalMs: 50 },
        scheduler: false,
        ...options,
      });
      decks.push(deck);
      return deck.start();
    },
    waitForStatus: (deck, id, ...statuses) =>
      pollUntil(
        async () => {
          const run = await deck.runs.get(id);
          return statuses.includes(run.status) ? run : undefined;
        },
        { what: `run ${id} to be ${statuses.join('|')}`, timeoutMs: EVENT_DEADLINE_MS },
      ),
  };
  return () => instances;
}

/** Resolves once the signal is aborted (at once if it already is). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** A job (one attempt) whose handler reports its signal once started, then waits until stopped. */
export function untilStoppedJob(
  name: string,
  started: { resolve: (signal: AbortSignal) => void },
): JobDefinition {
  return defineJob({
    name,
    maxAttempts: 1,
    async run(ctx) {
      started.resolve(ctx.signal);
      await delay(60_000, undefined, { signal: ctx.signal });
    },
  });
}

/** Short checkpointed steps, for ever: a handler a graceful cancel stops at its next step. */
export async function stepUntilCancelled(ctx: JobContext): Promise<never> {
  for (let tick = 0; ; tick++)
    await ctx.step(`tick ${tick}`, () => delay(20, undefined, { signal: ctx.signal }));
}
