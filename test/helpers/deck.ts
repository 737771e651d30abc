import { Jobdeck, type JobdeckOptions } from '../../src/jobdeck.js';
import type { JobDefinition } from '../../src/jobs/define.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Run } from '../../src/core/run.js';
import type { RunStatus } from '../../src/core/status.js';
import { EVENT_DEADLINE_MS, pollUntil } from './poll.js';
import { tempDbPath } from './temp.js';

export interface TestDeck {
  deck: Jobdeck;
  path: string;
  /** Wait until the run has one of the statuses, and return it. */
  waitForStatus(id: string, ...statuses: RunStatus[]): Promise<Run>;
  close(): Promise<void>;
}

/** A started Jobdeck on a fresh SQLite file with fast loops, for in-process runtime tests. */
export async function openTestDeck(
  jobs: JobDefinition[],
  options: Partial<Omit<JobdeckOptions, 'store' | 'jobs'>> = {},
): Promise<TestDeck> {
  const { path, cleanup } = tempDbPath();
  const deck = new Jobdeck({
    store: new SqliteStore({ path }),
    jobs,
    worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000 },
    maintenance: { intervalMs: 50 },
    ...options,
  });
  await deck.start();
  return {
    deck,
    path,
    waitForStatus: (id, ...statuses) =>
      pollUntil(
        async () => {
          const run = await deck.runs.get(id);
          return statuses.includes(run.status) ? run : undefined;
        },
        { what: `run ${id} to be ${statuses.join('|')}`, timeoutMs: EVENT_DEADLINE_MS },
      ),
    close: async () => {
      await deck.close({ graceMs: 1000 });
      cleanup();
    },
  };
}

/** A promise with its resolve exposed: lets a test hold a handler at a known point. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
