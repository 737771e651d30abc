/**
 * A force cancel recorded by another instance reaches a running handler's worker first as a
 * refused write (its next progress write), before the cancel poll, heartbeat or push delivers it.
 * The worker must still treat it as the force cancel it is — log `cancel delivered`, run the
 * `onCancel` cleanups — not as a lost lease. (Found by test/multiprocess.postgres.test.ts with
 * notify=false: runs writing progress every 100 ms lost their `cancel delivered` log.)
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { deferred } from './helpers/deck.js';
import { pollUntil } from './helpers/poll.js';
import { tempDbPath } from './helpers/temp.js';

const admin = { name: 'root', role: 'admin' as const };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a force cancel that reaches the worker as a refused write', () => {
  it('is delivered as a cancel: logged, cleanups run, never taken for a lost lease', async () => {
    const started = deferred();
    const cleaned: string[] = [];
    let stoppedBy: unknown = null;
    const job = defineJob({
      name: 'busy',
      maxAttempts: 1,
      async run(ctx) {
        ctx.onCancel((reason) => {
          cleaned.push(reason.mode);
        });
        started.resolve();
        try {
          for (let i = 0; ; i++) {
            ctx.progress({ processed: i, total: 1_000_000 });
            await delay(20, undefined, { signal: ctx.signal });
          }
        } catch (err) {
          stoppedBy = ctx.signal.reason;
          throw err;
        }
      },
    });
    const { path, cleanup } = tempDbPath();
    cleanups.push(cleanup);
    // The worker would hear of the cancel only after a minute by poll or heartbeat.
    const worker = await new Jobdeck({
      store: new SqliteStore({ path }),
      jobs: [job],
      worker: { pollMs: 20, cancelPollMs: 60_000, heartbeatMs: 60_000, leaseMs: 120_000 },
      scheduler: false,
      maintenance: false,
    }).start();
    cleanups.push(() => worker.close({ graceMs: 500 }));
    // Another instance on the same store: its cancel does not travel on the worker's event bus.
    const api = await new Jobdeck({
      store: new SqliteStore({ path }),
      jobs: [job],
      worker: false,
      scheduler: false,
      maintenance: false,
    }).start();
    cleanups.push(() => api.close());

    const { run } = await api.runs.create({ job: 'busy', principal: admin });
    await started.promise;
    const asked = await api.cancels.cancel(run.id, { mode: 'force', reason: 'stop now' }, admin);
    expect(asked.run.status).toBe('cancelled');

    const delivered = await pollUntil(
      async () =>
        (await api.runs.logs(run.id)).find((entry) => entry.message === 'cancel delivered'),
      { timeoutMs: 5000, what: 'the cancel delivered log' },
    );
    expect(delivered.data).toEqual({ mode: 'force' });
    await pollUntil(() => worker.worker!.activeCount === 0, { timeoutMs: 5000 });
    expect(cleaned).toEqual(['force']);
    expect(stoppedBy).toMatchObject({ kind: 'cancel', mode: 'force' });
    expect((await api.runs.get(run.id)).status).toBe('cancelled');
  });
});
