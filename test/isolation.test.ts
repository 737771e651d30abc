/**
 * Acceptance tests for "force stop that always works": handlers in `thread` and `process`
 * isolation are stopped (their isolate terminated) even when they never look at their signal,
 * while the worker's heartbeats keep their lease; `inline` keeps its documented behaviour (the
 * store says `cancelled` at once and the attempt's later writes are fenced). The cancellation
 * table of the inline runtime tests holds in threads and processes; crashing isolates fail only
 * their attempt; no child process outlives a run. Which warm threads are reused, on every backend,
 * is in test/runtime-conformance/threads.ts. The tests wait for events (logs, statuses, a freed
 * slot); how fast a stop is belongs to bench/.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../src/core/glossary.js';
import type { Run, StoredLogEntry } from '../src/core/run.js';
import { Jobdeck } from '../src/jobdeck.js';
import { defineJob } from '../src/jobs/define.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { ThreadPool } from '../src/runtime/isolation/hosts.js';
import type { FromIsolate, ToIsolate } from '../src/runtime/isolation/protocol.js';
import {
  busyJobs,
  crashJobs,
  doubleJob,
  durableStepJobs,
  exitLoopJob,
  fanJobs,
  hogJobs,
  lateCrashThreadJob,
  parentJobs,
  politeJobs,
  slowJobs,
  stepJobs,
  trivialThreadJobs,
  waiterJobs,
} from './fixtures/isolated-jobs.js';
import { deferred, openTestDeck, type TestDeck } from './helpers/deck.js';
import { expectNoChildProcesses, processExists } from './helpers/processes.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/temp.js';

// Isolates start slowly on a loaded machine: a test may wait long, it never fails for being slow.
vi.setConfig({ testTimeout: 4 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });

const alice: Principal = { name: 'alice', role: 'operator' };

const isolatedJobs = [
  ...busyJobs,
  ...politeJobs,
  ...crashJobs,
  ...hogJobs,
  ...waiterJobs,
  ...stepJobs,
  ...fanJobs,
  ...slowJobs,
  exitLoopJob,
  ...trivialThreadJobs,
  ...durableStepJobs,
  ...parentJobs,
  doubleJob,
];

/** Fast loops and frequent heartbeats, so a blocked heartbeat shows as renewals that stop. */
const fastHeartbeats = { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 5000 };

let open: TestDeck[] = [];
async function deckWith(
  jobs: Parameters<typeof openTestDeck>[0] = isolatedJobs,
  options: Parameters<typeof openTestDeck>[1] = {},
): Promise<TestDeck> {
  const t = await openTestDeck(jobs, options);
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
  // No process isolate outlives its deck.
  await expectNoChildProcesses(EVENT_DEADLINE_MS);
});

/** Pids of `process` isolates seen in run logs (`data.pid`); none may exist once the tests are done. */
const isolatePids = new Set<number>();

async function logsOf(t: TestDeck, id: string): Promise<StoredLogEntry[]> {
  return await t.deck.runs.logs(id);
}

async function messages(t: TestDeck, id: string): Promise<string[]> {
  return (await logsOf(t, id)).map((l) => l.message);
}

/** Wait for a log line of the run and return it; records the pid of a process isolate it names. */
async function waitForLog(t: TestDeck, id: string, message: string): Promise<StoredLogEntry> {
  const entry = await pollUntil(
    async () => (await logsOf(t, id)).find((l) => l.message === message),
    { what: `log ${JSON.stringify(message)} of run ${id}`, timeoutMs: EVENT_DEADLINE_MS },
  );
  const pid = (entry.data as { pid?: unknown } | undefined)?.pid;
  if (typeof pid === 'number' && pid !== process.pid) isolatePids.add(pid);
  return entry;
}

function waitForEnd(t: TestDeck, id: string): Promise<Run> {
  return t.waitForStatus(id, 'completed', 'partial', 'failed', 'cancelled');
}

/** Wait until the worker holds no run. */
async function slotFreed(t: TestDeck): Promise<void> {
  await pollUntil(() => t.deck.worker!.activeCount === 0, {
    what: 'the worker slot to be free',
    timeoutMs: EVENT_DEADLINE_MS,
  });
}

describe('a handler that never checks its signal', () => {
  it.each(['thread', 'process'] as const)(
    '%s: force cancel terminates its isolate while heartbeats keep its lease',
    async (isolation) => {
      const t = await deckWith(isolatedJobs, { worker: fastHeartbeats });
      const job = hogJobs.find((j) => j.isolation === isolation)!;
      const { run } = await t.deck.runs.create({ job: job.name, input: {}, principal: alice });
      const started = await waitForLog(t, run.id, 'hog started');
      // Where it spins: another thread of this process, or another process.
      const at = started.data as { pid: number; threadId: number };
      if (isolation === 'thread')
        expect([at.pid === process.pid, at.threadId > 0]).toEqual([true, true]);
      else expect([at.pid === process.pid, at.threadId]).toEqual([false, 0]);
      const before = await t.deck.runs.get(run.id);

      // While the handler spins, the worker's heartbeats go on: the lease is renewed again and
      // again, and stays held, attempt 1, by this worker.
      const seen = new Set<string>();
      const leases = new Set<number>();
      await pollUntil(
        async () => {
          const now = await t.deck.runs.get(run.id);
          seen.add(`${now.status} attempt=${now.attempt} worker=${now.workerId}`);
          if (now.leaseExpiresAt) leases.add(now.leaseExpiresAt.getTime());
          return leases.size > 3;
        },
        { what: 'three lease renewals', timeoutMs: EVENT_DEADLINE_MS, intervalMs: 50 },
      );
      expect([...seen]).toEqual([`running attempt=1 worker=${t.deck.worker!.id}`]);
      expect(await messages(t, run.id)).toEqual(['hog started']);

      const { run: after, action } = await t.deck.cancels.cancel(
        run.id,
        { mode: 'force', reason: 'stop the hog' },
        alice,
      );
      expect(action).toBe('force');
      expect(after.status).toBe('cancelled');
      expect((await t.deck.runs.get(run.id)).status).toBe('cancelled'); // at once in the store

      // The host writes this once the isolate has exited (a thread's exit event, a process's).
      await waitForLog(
        t,
        run.id,
        `handler did not settle after the stop; its ${isolation} was terminated`,
      );
      await slotFreed(t);

      const log = await messages(t, run.id);
      expect(log).toContain('cleanup cut at its deadline'); // the spinning isolate never answered
      expect(log).not.toContain('hog finished');
      expect(log.filter((m) => m === 'hog started')).toHaveLength(1);
      const end = await t.deck.runs.get(run.id);
      expect(end).toMatchObject({
        status: 'cancelled',
        attempt: 1,
        result: null,
        error: null,
        progress: before.progress,
        cancel: { mode: 'force', reason: 'stop the hog', requestedBy: 'alice' },
      });
      if (isolation === 'process')
        await pollUntil(() => !processExists(at.pid), {
          what: `isolate ${at.pid} to be gone`,
          timeoutMs: EVENT_DEADLINE_MS,
        });
    },
  );

  it('inline: the store says cancelled at once and the later writes of the attempt are fenced', async () => {
    const spinning = deferred();
    const release = deferred();
    const finished = deferred<{ sawAbort: boolean }>();
    // Spins in slices and yields between them, but never looks at ctx.signal.
    const hog = defineJob({
      name: 'hog.inline',
      forceGrace: 300,
      maxAttempts: 3,
      async run(ctx) {
        ctx.log.info('hog started');
        spinning.resolve();
        let released = false;
        void release.promise.then(() => (released = true));
        let spins = 0;
        while (!released) {
          const slice = Date.now() + 10;
          while (Date.now() < slice) spins++;
          await nextTurn();
        }
        ctx.progress({ processed: 1, total: 1, message: 'hog finished' });
        ctx.log.error('hog finished'); // an error line is written at once, if it is written at all
        finished.resolve({ sawAbort: ctx.signal.aborted });
        return { spins };
      },
    });
    const sentinel = defineJob({ name: 'sentinel', run: () => 'ok' });
    const t = await deckWith([hog, sentinel]);
    const { run } = await t.deck.runs.create({ job: 'hog.inline', principal: alice });
    await spinning.promise;
    await waitForLog(t, run.id, 'hog started');
    const before = await t.deck.runs.get(run.id);
    const { run: after } = await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
    expect(after.status).toBe('cancelled');
    expect((await t.deck.runs.get(run.id)).status).toBe('cancelled');
    await slotFreed(t);
    await waitForLog(t, run.id, 'handler did not settle after the stop; its writes are fenced');

    // The handler goes on until it returns; what it writes then is refused.
    release.resolve();
    expect(await finished.promise).toEqual({ sawAbort: true });
    const { run: next } = await t.deck.runs.create({ job: 'sentinel', principal: alice });
    await t.waitForStatus(next.id, 'completed');
    const end = await t.deck.runs.get(run.id);
    expect(end).toMatchObject({
      status: 'cancelled',
      attempt: 1,
      result: null,
      error: null,
      progress: before.progress,
    });
    expect(await messages(t, run.id)).not.toContain('hog finished');
  });
});

describe('onCancel cleanup on force cancel', () => {
  it.each(['inline', 'thread', 'process'] as const)(
    '%s: the cleanup runs and its lines land in the run logs',
    async (isolation) => {
      const t = await deckWith();
      const { run } = await t.deck.runs.create({
        job: `polite.${isolation}`,
        input: { steps: 1, stepMs: 60_000 },
        principal: alice,
      });
      await waitForLog(t, run.id, 'step 1 started');
      const { run: after } = await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
      expect(after.status).toBe('cancelled');
      await slotFreed(t);
      const log = await logsOf(t, run.id);
      const started = log.findIndex((l) => l.message === 'cleanup started');
      const finished = log.findIndex((l) => l.message === 'cleanup finished');
      expect(started).toBeGreaterThanOrEqual(0);
      expect(finished).toBeGreaterThan(started);
      expect(log[started]!.data).toEqual({ kind: 'cancel', mode: 'force' });
      expect(log.map((l) => l.message)).not.toContain('cleanup cut at its deadline');
      expect(await t.deck.runs.get(run.id)).toMatchObject({ status: 'cancelled', attempt: 1 });
    },
  );

  it.each(['inline', 'thread', 'process'] as const)(
    '%s: a cleanup that hangs is cut at its deadline and the slot is freed',
    async (isolation) => {
      const t = await deckWith();
      const job = politeJobs.find((j) => j.isolation === isolation)!;
      const { run } = await t.deck.runs.create({
        job: job.name,
        input: { steps: 1, stepMs: 60_000, hangCleanup: true },
        principal: alice,
      });
      await waitForLog(t, run.id, 'step 1 started');
      await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
      await slotFreed(t);
      const cut = await waitForLog(t, run.id, 'cleanup cut at its deadline');
      expect(cut).toMatchObject({ level: 'warn', data: { deadlineMs: job.forceGraceMs } });
      const log = await messages(t, run.id);
      expect(log).toContain('cleanup started');
      expect(log).not.toContain('cleanup finished');
      expect(await t.deck.runs.get(run.id)).toMatchObject({ status: 'cancelled', attempt: 1 });
    },
  );
});

describe.each(['thread', 'process'] as const)('the cancellation table in a %s', (isolation) => {
  it('graceful cancel lets the current step finish and starts no new one', async () => {
    const t = await deckWith();
    const { run } = await t.deck.runs.create({ job: `steps.${isolation}`, principal: alice });
    await waitForLog(t, run.id, 'step 1 started');
    const { run: asked, action } = await t.deck.cancels.cancel(
      run.id,
      { mode: 'graceful', reason: 'enough' },
      alice,
    );
    expect(action).toBe('request');
    expect(asked.status).toBe('cancelling');
    const done = await waitForEnd(t, run.id);
    expect(done).toMatchObject({
      status: 'cancelled',
      attempt: 1,
      result: null,
      cancel: { mode: 'graceful', reason: 'enough', requestedBy: 'alice' },
    });
    const log = await logsOf(t, run.id);
    expect(log.find((l) => l.message === 'cancel delivered')?.data).toEqual({ mode: 'graceful' });
    expect(log.find((l) => l.message === 'step 1 ended')?.data).toEqual({ signalAborted: false });
    const text = log.map((l) => l.message);
    expect(text).not.toContain('step 2 started');
  });

  it('a run cancelled while pending never starts', async () => {
    const api = await deckWith(isolatedJobs, { worker: false });
    const { run } = await api.deck.runs.create({
      job: `waiter.${isolation}`,
      input: {},
      principal: alice,
    });
    const { action, run: cancelled } = await api.deck.cancels.cancel(run.id, {}, alice);
    expect(action).toBe('cancel-now');
    expect(cancelled.status).toBe('cancelled');
    // A worker on the same store finds nothing to do; a later sentinel run proves it looked.
    const worker = await sameStore(api);
    const { run: sentinel } = await worker.deck.runs.create({
      job: `waiter.${isolation}`,
      input: { ms: 0 },
      principal: alice,
    });
    expect((await waitForEnd(worker, sentinel.id)).status).toBe('completed');
    expect(await worker.deck.runs.get(run.id)).toMatchObject({
      status: 'cancelled',
      startedAt: null,
      workerId: null,
    });
    expect(await messages(worker, run.id)).not.toContain('waiting');
  });

  it('escalates a graceful stop to force', async () => {
    const t = await deckWith();
    const { run } = await t.deck.runs.create({
      job: `waiter.${isolation}`,
      input: {},
      principal: alice,
    });
    await waitForLog(t, run.id, 'waiting');
    expect((await t.deck.cancels.cancel(run.id, { mode: 'graceful' }, alice)).run.status).toBe(
      'cancelling',
    );
    expect((await t.deck.cancels.cancel(run.id, { mode: 'graceful' }, alice)).action).toBe(
      'unchanged',
    );
    // The waiter has no checkpoint: only the force gets it out.
    const forced = await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
    expect(forced.action).toBe('force');
    expect(forced.run).toMatchObject({ status: 'cancelled', cancel: { mode: 'force' } });
    await slotFreed(t);
    const log = await logsOf(t, run.id);
    expect(log.filter((l) => l.message === 'cancel delivered').map((l) => l.data)).toEqual([
      { mode: 'graceful' },
      { mode: 'force' },
    ]);
    expect(log.find((l) => l.message === 'cleanup ran')?.data).toEqual({ mode: 'force' });
    expect(await t.deck.runs.get(run.id)).toMatchObject({ status: 'cancelled', attempt: 1 });
  });

  it('a cancelled run is never retried', async () => {
    const t = await deckWith(isolatedJobs, { worker: { pollMs: 20, cancelPollMs: 20 } });
    const { run } = await t.deck.runs.create({
      job: `waiter.${isolation}`,
      input: {},
      principal: alice,
    });
    await waitForLog(t, run.id, 'waiting');
    await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
    await slotFreed(t);
    const { run: sentinel } = await t.deck.runs.create({
      job: `waiter.${isolation}`,
      input: { ms: 0 },
      principal: alice,
    });
    expect((await waitForEnd(t, sentinel.id)).status).toBe('completed');
    await t.deck.maintenance!.runOnce();
    const after = await t.deck.runs.get(run.id);
    expect(after).toMatchObject({ status: 'cancelled', attempt: 1, error: null, lastError: null });
    expect((await messages(t, run.id)).filter((m) => m === 'waiting')).toHaveLength(1);
  });

  it('a fan-out with one failing item ends partial with the right item statuses', async () => {
    const t = await deckWith();
    const { run } = await t.deck.runs.create({ job: `fan.${isolation}`, principal: alice });
    const done = await waitForEnd(t, run.id);
    expect(done.status).toBe('partial');
    expect(done.attempt).toBe(1);
    expect(done.items).toEqual([
      { key: 'n1', status: 'succeeded' },
      { key: 'n2', status: 'failed', error: { code: 'SSH_REFUSED', message: 'ssh refused' } },
      { key: 'n3', status: 'succeeded' },
    ]);
    expect(done.result).toMatchObject({ succeeded: 2, failed: 1, cancelled: 0 });
  });

  it('a timeout ends failed with TIMEOUT', async () => {
    const t = await deckWith();
    const { run } = await t.deck.runs.create({ job: `slow.${isolation}`, principal: alice });
    const done = await waitForEnd(t, run.id);
    expect(done).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TIMEOUT' } });
  });
});

describe.each(['inline', 'thread', 'process'] as const)(
  'durable steps in %s isolation',
  (isolation) => {
    it('the retry after a failed step gets the completed step back without running it again, and redoes only the fan-out items that failed', async () => {
      const { dir, cleanup } = tempDir('jobdeck-durable-');
      const ledger = join(dir, 'ledger.txt');
      writeFileSync(ledger, '');
      try {
        const t = await deckWith();
        const { run } = await t.deck.runs.create({
          job: `durable.${isolation}`,
          input: { ledger },
          principal: alice,
        });
        const done = await waitForEnd(t, run.id);
        // The first step's result is its JSON form on the first attempt and on the replay alike.
        expect(done).toMatchObject({
          status: 'completed',
          attempt: 2,
          result: { first: { at: '1970-01-01T00:00:00.000Z', n: 1 }, third: 2 },
        });
        // Items a and c succeeded on the first attempt: the second runs only b again.
        expect(readFileSync(ledger, 'utf8').trim().split('\n')).toEqual([
          'first 1',
          'item a 1',
          'item b 1',
          'item c 1',
          'second 1',
          'item b 2',
          'second 2',
          'third 2',
        ]);
        // Keyed by index; the item redone is recorded again, after those kept.
        expect(done.items).toEqual([
          { key: '0', status: 'succeeded' },
          { key: '2', status: 'succeeded' },
          { key: '1', status: 'succeeded' },
        ]);
        const fanOuts = (await logsOf(t, run.id)).filter((l) => l.message === 'fan-out');
        expect(fanOuts.map((l) => l.data)).toEqual([
          { succeeded: 2, failed: 1 },
          { succeeded: 3, failed: 0 },
        ]);
        expect((await t.deck.runs.steps(run.id)).map((s) => [s.name, s.status, s.attempt])).toEqual(
          [
            ['first', 'completed', 1],
            ['second', 'completed', 2],
            ['third', 'completed', 2],
          ],
        );
      } finally {
        cleanup();
      }
    });
  },
);

describe.each(['thread', 'process'] as const)('child runs in %s isolation', (isolation) => {
  it('a parent spawns a child and waits for it: suspended until it ends, then resumed with its result', async () => {
    const { dir, cleanup } = tempDir('jobdeck-children-');
    const ledger = join(dir, 'ledger.txt');
    writeFileSync(ledger, '');
    try {
      // One slot: the child runs only once the parent's attempt has ended, waiting for it.
      const t = await deckWith(isolatedJobs, { worker: { ...fastHeartbeats, concurrency: 1 } });
      const { run } = await t.deck.runs.create({
        job: `parent.${isolation}`,
        input: { ledger, n: 21 },
        principal: alice,
      });
      const done = await waitForEnd(t, run.id);
      expect(done).toMatchObject({ status: 'completed', attempt: 2, result: { doubled: 42 } });
      expect(done.attempts.map((a) => a.outcome)).toEqual(['waiting']);
      const child = await t.deck.runs.get((done.result as { child: string }).child);
      expect(child).toMatchObject({
        status: 'completed',
        result: 42,
        parentId: run.id,
        trigger: 'parent',
        createdBy: 'alice',
        priority: 3,
      });
      // The replay skipped the step; only the code outside it ran again.
      expect(readFileSync(ledger, 'utf8').trim().split('\n')).toEqual([
        'handler 1',
        'plan 1',
        'handler 2',
      ]);
      expect(await messages(t, run.id)).toContain('waiting for 1 child run');
    } finally {
      cleanup();
    }
  });
});

describe('isolates that crash', () => {
  it('process.exit(1) fails the attempt with ISOLATE_EXITED, and it is retried', async () => {
    const t = await deckWith();
    const { run } = await t.deck.runs.create({ job: 'exit.process', principal: alice });
    const retrying = await t.waitForStatus(run.id, 'scheduled', 'failed', 'completed');
    expect(retrying).toMatchObject({
      status: 'scheduled',
      attempt: 1,
      lastError: { code: 'ISOLATE_EXITED' },
    });
    expect(retrying.lastError!.message).toMatch(/exited with code 1/);
    await t.deck.cancels.cancel(run.id, {}, alice); // no need to wait for the backoff
  });

  it('each crash fails only its own attempt with its code; the worker keeps serving', async () => {
    const t = await deckWith();
    const create = async (job: string) =>
      (await t.deck.runs.create({ job, principal: alice })).run.id;
    // Crashes and a healthy run side by side.
    const ids = {
      thrown: await create('throw.thread'),
      uncaught: await create('uncaught.thread'),
      oom: await create('oom.thread'),
      exits: await create('exitloop.process'),
      healthy: await create('ok.thread'),
    };
    const [thrown, uncaught, oom, exits, healthy] = await Promise.all(
      Object.values(ids).map((id) => waitForEnd(t, id)),
    );
    expect(thrown).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { code: 'E_THREAD', message: 'thread handler failed' },
    });
    expect(uncaught).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { code: 'ISOLATE_CRASHED' },
    });
    expect(uncaught!.error!.message).toContain('uncaught in thread');
    expect(oom).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { code: 'ISOLATE_OUT_OF_MEMORY' },
    });
    // Crashes every attempt: failed after maxAttempts.
    expect(exits).toMatchObject({
      status: 'failed',
      attempt: 3,
      maxAttempts: 3,
      error: { code: 'ISOLATE_EXITED' },
    });
    expect(healthy).toMatchObject({ status: 'completed', result: { threadRun: ids.healthy } });
    // And afterwards.
    const later = await create('ok.thread');
    expect(await waitForEnd(t, later)).toMatchObject({ status: 'completed' });
    expect(t.deck.worker!.activeCount).toBe(0);
  });
});

describe('the thread pool', () => {
  it('an idle pooled thread that fails leaves the pool, not the process', async () => {
    const pool = new ThreadPool();
    const { dir, cleanup } = tempDir();
    const marker = join(dir, 'marker');
    writeFileSync(marker, 'idle');
    try {
      const thread = pool.take(lateCrashThreadJob);
      const tag = { runId: 'run-1', attempt: 1 };
      const done = new Promise<FromIsolate>((resolve) =>
        thread.on('message', (message: FromIsolate) => {
          if (message.type === 'done') resolve(message);
        }),
      );
      thread.postMessage({
        type: 'start',
        ...tag,
        moduleUrl: lateCrashThreadJob.module!,
        job: lateCrashThreadJob.name,
        run: { id: tag.runId, job: lateCrashThreadJob.name, attempt: 1, maxAttempts: 1 },
        input: { marker },
        cancel: null,
        pause: null,
      } satisfies ToIsolate);
      expect(await done).toMatchObject({ ...tag, type: 'done', ok: true });
      pool.give(lateCrashThreadJob, thread, 1);
      expect(pool.idleCount).toBe(1);
      writeFileSync(marker, 'wake'); // what the finished run left behind throws now
      await pollUntil(() => pool.idleCount === 0, {
        what: 'the failed thread to leave the pool',
        timeoutMs: EVENT_DEADLINE_MS,
      });
    } finally {
      await pool.close();
      cleanup();
    }
  });

  it("keeps warm threads per job: a job's first run starts a thread, its next runs reuse it", async () => {
    // How much faster a warm start is, is measured by the benchmarks, not asserted here.
    const t = await deckWith();
    const threadOf = async (job: string) => {
      const { run } = await t.deck.runs.create({ job, principal: alice });
      return ((await t.waitForStatus(run.id, 'completed')).result as { threadId: number }).threadId;
    };
    const cold: number[] = [];
    for (const job of trivialThreadJobs) cold.push(await threadOf(job.name));
    expect(new Set(cold).size).toBe(trivialThreadJobs.length);
    const warm: number[] = [];
    for (let i = 0; i < 3; i++) warm.push(await threadOf(trivialThreadJobs[0]!.name));
    expect(warm).toEqual([cold[0], cold[0], cold[0]]);
  });
});

describe('no orphans', () => {
  it('leaves no child process behind', async () => {
    // Runs last in this file: every process isolate started above has ended with its run.
    expect(isolatePids.size).toBeGreaterThan(0);
    await pollUntil(() => [...isolatePids].every((pid) => !processExists(pid)), {
      what: `the process isolates ${[...isolatePids].join(', ')} to be gone`,
      timeoutMs: EVENT_DEADLINE_MS,
    });
    await expectNoChildProcesses(EVENT_DEADLINE_MS);
  });
});

/** A second instance with a worker on the same SQLite file. */
async function sameStore(t: TestDeck): Promise<TestDeck> {
  const deck = await new Jobdeck({
    store: new SqliteStore({ path: t.path }),
    jobs: isolatedJobs,
    worker: { pollMs: 20, cancelPollMs: 20 },
  }).start();
  const other: TestDeck = {
    deck,
    path: t.path,
    waitForStatus: (id, ...statuses) =>
      pollUntil(
        async () => {
          const run = await deck.runs.get(id);
          return statuses.includes(run.status) ? run : undefined;
        },
        { timeoutMs: EVENT_DEADLINE_MS },
      ),
    close: () => deck.close({ graceMs: 1000 }),
  };
  open.push(other);
  return other;
}
