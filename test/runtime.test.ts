import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../src/jobs/define.js';
import { isCancellation } from '../src/core/cancellation.js';
import type { Principal } from '../src/core/glossary.js';
import { deferred, openTestDeck, type TestDeck } from './helpers/deck.js';
import { pollUntil } from './helpers/poll.js';

const alice: Principal = { name: 'alice', role: 'operator' };
const bob: Principal = { name: 'bob', role: 'operator' };
const admin: Principal = { name: 'root', role: 'admin' };

let open: TestDeck[] = [];
async function deckWith(...args: Parameters<typeof openTestDeck>): Promise<TestDeck> {
  const t = await openTestDeck(...args);
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

async function messages(t: TestDeck, id: string): Promise<string[]> {
  return (await t.deck.runs.logs(id)).map((l) => l.message);
}

describe('graceful cancel', () => {
  it('lets the current step finish and starts no new one', async () => {
    const stepOneRunning = deferred();
    const releaseStepOne = deferred();
    const job = defineJob({
      name: 'steps',
      maxAttempts: 3,
      async run(ctx) {
        for (let n = 1; n <= 3; n++) {
          await ctx.step(`step ${n}`, async () => {
            ctx.log.info(`step ${n} started`);
            if (n === 1) {
              stepOneRunning.resolve();
              await releaseStepOne.promise;
            }
            ctx.log.info(`step ${n} ended`);
          });
        }
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'steps', principal: alice });
    await stepOneRunning.promise;
    const { run: asked, action } = await t.deck.cancels.cancel(
      run.id,
      { mode: 'graceful', reason: 'enough' },
      alice,
    );
    expect(action).toBe('request');
    expect(asked.status).toBe('cancelling');
    await pollUntil(async () => (await messages(t, run.id)).includes('cancel delivered'));
    releaseStepOne.resolve();
    const done = await t.waitForStatus(run.id, 'cancelled', 'completed', 'failed', 'partial');
    expect(done.status).toBe('cancelled');
    expect(done.attempt).toBe(1);
    expect(done.cancel).toMatchObject({ mode: 'graceful', reason: 'enough', requestedBy: 'alice' });
    const log = await messages(t, run.id);
    expect(log).toContain('step 1 ended');
    expect(log).not.toContain('step 2 started');
  });

  it('ends a fan-out partial, keeping the items that succeeded', async () => {
    const firstDone = deferred();
    const hold = deferred();
    const job = defineJob({
      name: 'fan',
      async run(ctx) {
        await ctx.forEach(
          ['a', 'b', 'c', 'd'],
          async (key) => {
            if (key === 'b') {
              firstDone.resolve();
              await hold.promise;
            }
          },
          { key: (k) => k },
        );
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'fan', principal: alice });
    await firstDone.promise;
    await t.deck.cancels.cancel(run.id, {}, alice);
    await pollUntil(async () => (await messages(t, run.id)).includes('cancel delivered'));
    hold.resolve();
    const done = await t.waitForStatus(run.id, 'partial', 'cancelled', 'completed', 'failed');
    expect(done.status).toBe('partial');
    expect(done.cancel?.mode).toBe('graceful');
    expect(Object.fromEntries(done.items.map((i) => [i.key, i.status]))).toEqual({
      a: 'succeeded',
      b: 'succeeded',
      c: 'cancelled',
      d: 'cancelled',
    });
  });
});

describe('force cancel', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = null;
  });

  it('aborts an in-flight fetch and a timer through ctx.signal and runs onCancel', async () => {
    const requestArrived = deferred();
    server = createServer(() => requestArrived.resolve()); // never answers
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`;
    const seen: Record<string, string> = {};
    const job = defineJob({
      name: 'fetcher',
      maxAttempts: 3,
      async run(ctx) {
        ctx.onCancel(async (reason) => {
          ctx.log.info('cleanup ran', { mode: reason.mode });
        });
        const fetching = fetch(url, { signal: ctx.signal }).then(
          () => 'answered',
          // fetch rejects with the signal's own reason.
          (err: unknown) => (err === ctx.signal.reason ? 'aborted' : `other: ${String(err)}`),
        );
        const waiting = delay(60_000, undefined, { signal: ctx.signal }).then(
          () => 'elapsed',
          (err: unknown) => ((err as Error).name === 'AbortError' ? 'aborted' : 'other'),
        );
        [seen.fetch, seen.timer] = await Promise.all([fetching, waiting]);
        seen.reason = isCancellation(ctx.signal.reason) ? ctx.signal.reason.kind : 'none';
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'fetcher', principal: alice });
    await requestArrived.promise;
    const { run: after, action } = await t.deck.cancels.cancel(
      run.id,
      { mode: 'force', reason: 'stop now' },
      alice,
    );
    expect(action).toBe('force');
    expect(after.status).toBe('cancelled'); // at once in the store
    await pollUntil(async () => (await messages(t, run.id)).includes('cleanup ran'), {
      what: 'cleanup log',
    });
    await pollUntil(() => seen.reason);
    expect(seen).toEqual({ fetch: 'aborted', timer: 'aborted', reason: 'cancel' });
    const log = await t.deck.runs.logs(run.id);
    expect(log.find((l) => l.message === 'cancel delivered')).toMatchObject({
      level: 'info',
      data: { mode: 'force' },
    });
    const stored = await t.deck.runs.get(run.id);
    expect(stored).toMatchObject({
      status: 'cancelled',
      attempt: 1,
      cancel: { mode: 'force', reason: 'stop now', requestedBy: 'alice' },
    });
  });

  it('escalates a graceful stop to force', async () => {
    const started = deferred();
    const job = defineJob({
      name: 'stubborn',
      async run(ctx) {
        started.resolve();
        await delay(60_000, undefined, { signal: ctx.signal });
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'stubborn', principal: alice });
    await started.promise;
    expect((await t.deck.cancels.cancel(run.id, { mode: 'graceful' }, alice)).run.status).toBe(
      'cancelling',
    );
    expect((await t.deck.cancels.cancel(run.id, { mode: 'graceful' }, alice)).action).toBe(
      'unchanged',
    );
    const forced = await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
    expect(forced.action).toBe('force');
    expect(forced.run.status).toBe('cancelled');
    expect(forced.run.cancel?.mode).toBe('force');
    await pollUntil(async () =>
      (await t.deck.runs.logs(run.id)).some(
        (l) => l.message === 'cancel delivered' && (l.data as { mode: string }).mode === 'force',
      ),
    );
  });
});

describe('runs due later', () => {
  it('a run due in 30 days sets no timer Node cannot hold (no TimeoutOverflowWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const job = defineJob({ name: 'later', async run() {} });
      const t = await deckWith([job]);
      const runAt = new Date(Date.now() + 30 * 24 * 3600_000);
      const { run } = await t.deck.runs.create({ job: 'later', runAt, principal: alice });
      expect(run.status).toBe('scheduled');
      // A run due now after it is still picked up at once: the far one set no timer in its way.
      const { run: now } = await t.deck.runs.create({ job: 'later', principal: alice });
      await t.waitForStatus(now.id, 'completed');
      expect((await t.deck.runs.get(run.id)).status).toBe('scheduled');
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('runs that never start or never come back', () => {
  it('a run cancelled while pending never starts', async () => {
    let calls = 0;
    const job = defineJob({
      name: 'counted',
      async run() {
        calls++;
      },
    });
    const t = await deckWith([job], { worker: false });
    const { run } = await t.deck.runs.create({ job: 'counted', principal: alice });
    const { action, run: cancelled } = await t.deck.cancels.cancel(run.id, {}, alice);
    expect(action).toBe('cancel-now');
    expect(cancelled.status).toBe('cancelled');
    // A worker started now finds nothing to do; a later sentinel run proves it looked.
    const worker = await openTestDeckOnSameFile(t, [job]);
    const { run: sentinel } = await worker.deck.runs.create({ job: 'counted', principal: alice });
    await worker.waitForStatus(sentinel.id, 'completed');
    expect(calls).toBe(1);
    expect((await worker.deck.runs.get(run.id)).status).toBe('cancelled');
  });

  it('a cancelled run is never retried', async () => {
    const started = deferred();
    let attempts = 0;
    const job = defineJob({
      name: 'once',
      maxAttempts: 5,
      async run(ctx, input) {
        if ((input as { sentinel?: boolean }).sentinel) return;
        attempts++;
        started.resolve();
        await delay(60_000, undefined, { signal: ctx.signal });
      },
    });
    const t = await deckWith([job], { worker: { pollMs: 20, concurrency: 1 } });
    const { run } = await t.deck.runs.create({ job: 'once', input: {}, principal: alice });
    await started.promise;
    await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
    const { run: sentinel } = await t.deck.runs.create({
      job: 'once',
      input: { sentinel: true },
      principal: alice,
    });
    await t.waitForStatus(sentinel.id, 'completed');
    await t.deck.maintenance!.runOnce();
    const after = await t.deck.runs.get(run.id);
    expect(after).toMatchObject({ status: 'cancelled', attempt: 1, error: null });
    expect(attempts).toBe(1);
  });
});

async function openTestDeckOnSameFile(
  t: TestDeck,
  jobs: Parameters<typeof openTestDeck>[0],
): Promise<TestDeck> {
  const { Jobdeck } = await import('../src/jobdeck.js');
  const { SqliteStore } = await import('../src/store/sqlite/sqlite-store.js');
  const deck = await new Jobdeck({
    store: new SqliteStore({ path: t.path }),
    jobs,
    worker: { pollMs: 20 },
  }).start();
  const other: TestDeck = {
    deck,
    path: t.path,
    waitForStatus: (id, ...statuses) =>
      pollUntil(async () => {
        const run = await deck.runs.get(id);
        return statuses.includes(run.status) ? run : undefined;
      }),
    close: () => deck.close({ graceMs: 1000 }),
  };
  open.push(other);
  return other;
}

describe('outcomes', () => {
  it('a fan-out with one failing item ends partial with the right item statuses', async () => {
    const job = defineJob({
      name: 'nodes',
      maxAttempts: 3,
      async run(ctx) {
        const summary = await ctx.forEach(
          ['n1', 'n2', 'n3'],
          async (node) => {
            if (node === 'n2')
              throw Object.assign(new Error('ssh refused'), { code: 'SSH_REFUSED' });
          },
          { key: (n) => n, concurrency: 2 },
        );
        return summary;
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'nodes', principal: alice });
    const done = await t.waitForStatus(run.id, 'partial', 'completed', 'failed');
    expect(done.status).toBe('partial');
    expect(done.attempt).toBe(1);
    expect(done.items).toEqual([
      { key: 'n1', status: 'succeeded' },
      { key: 'n2', status: 'failed', error: { code: 'SSH_REFUSED', message: 'ssh refused' } },
      { key: 'n3', status: 'succeeded' },
    ]);
    expect(done.result).toMatchObject({ succeeded: 2, failed: 1 });
  });

  it('a step name used twice fails the run with STEP_NAME_REUSED, one too long with INVALID_INPUT; a result that is not JSON fails the step', async () => {
    const twice = defineJob({
      name: 'twice',
      maxAttempts: 1,
      async run(ctx) {
        for (let page = 0; page < 2; page++) await ctx.step('page', () => page);
      },
    });
    const bigint = defineJob({
      name: 'bigint',
      maxAttempts: 3,
      async run(ctx) {
        await ctx.step('count', () => 10n);
      },
    });
    const longName = defineJob({
      name: 'long-name',
      maxAttempts: 1,
      async run(ctx) {
        await ctx.step('x'.repeat(201), () => 1);
      },
    });
    const t = await deckWith([twice, bigint, longName]);
    const { run: long } = await t.deck.runs.create({ job: 'long-name', principal: alice });
    expect(await t.waitForStatus(long.id, 'failed', 'completed')).toMatchObject({
      error: {
        code: 'INVALID_INPUT',
        message: 'A step needs a name of 1 to 200 characters, not 201.',
      },
    });
    const { run: reused } = await t.deck.runs.create({ job: 'twice', principal: alice });
    expect(await t.waitForStatus(reused.id, 'failed', 'completed')).toMatchObject({
      status: 'failed',
      error: { code: 'STEP_NAME_REUSED' },
    });
    expect((await t.deck.runs.steps(reused.id)).map((s) => [s.name, s.status])).toEqual([
      ['page', 'completed'],
    ]);
    const { run: notJson } = await t.deck.runs.create({ job: 'bigint', principal: alice });
    const failed = await t.waitForStatus(notJson.id, 'failed', 'completed');
    expect(failed.error).toMatchObject({ code: 'RESULT_NOT_STORABLE' });
    expect(failed).toMatchObject({ attempt: 1 });
    expect(failed.error!.message).toContain('The result of step "count" is not JSON');
    await pollUntil(
      async () => (await t.deck.runs.steps(notJson.id))[0]?.status === 'failed' || undefined,
      { what: 'the failed step to be recorded' },
    );
  });

  it('a handler silent for longer than heartbeatTimeout is stopped as stuck', async () => {
    const job = defineJob({
      name: 'silent',
      heartbeatTimeout: 150,
      maxAttempts: 1,
      async run(ctx) {
        await delay(60_000, undefined, { signal: ctx.signal });
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'silent', principal: alice });
    const done = await t.waitForStatus(run.id, 'failed');
    expect(done.error?.code).toBe('HEARTBEAT_TIMEOUT');
  });

  it('a failing attempt with attempts left is retried after a backoff, keeping its id', async () => {
    let calls = 0;
    const job = defineJob({
      name: 'flaky',
      maxAttempts: 2,
      backoff: { base: 10, jitter: 0 },
      async run() {
        calls++;
        if (calls === 1) throw new Error('first try fails');
        return 'ok';
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'flaky', principal: alice });
    const done = await t.waitForStatus(run.id, 'completed', 'failed');
    expect(done).toMatchObject({ id: run.id, status: 'completed', attempt: 2, result: 'ok' });
    expect(done.lastError).toMatchObject({ code: 'HANDLER_ERROR', message: 'first try fails' });
  });

  it('input is validated at create time with field paths', async () => {
    const job = defineJob({
      name: 'typed',
      input: z.object({ groupId: z.string(), batchSize: z.number().int().positive() }),
      run: () => null,
    });
    const t = await deckWith([job], { worker: false });
    await expect(t.deck.runs.create({ job: 'typed', input: { groupId: 5 } })).rejects.toMatchObject(
      {
        code: 'INVALID_INPUT',
        details: expect.arrayContaining([
          expect.objectContaining({ path: ['input', 'groupId'] }),
          expect.objectContaining({ path: ['input', 'batchSize'] }),
        ]),
      },
    );
    await expect(t.deck.runs.create({ job: 'nope' })).rejects.toMatchObject({
      code: 'JOB_NOT_FOUND',
    });
  });

  it('allowConcurrent: false refuses a second trigger while one is active', async () => {
    const started = deferred();
    const job = defineJob({
      name: 'single',
      allowConcurrent: false,
      async run(ctx) {
        started.resolve();
        await delay(60_000, undefined, { signal: ctx.signal });
      },
    });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'single', principal: alice });
    await started.promise;
    await expect(t.deck.runs.create({ job: 'single', principal: alice })).rejects.toMatchObject({
      code: 'ALREADY_RUNNING',
    });
    await t.deck.cancels.cancel(run.id, { mode: 'force' }, alice);
    const { created } = await t.deck.runs.create({ job: 'single', principal: alice });
    expect(created).toBe(true);
  });

  it('a disabled job refuses triggers and its waiting runs are not claimed', async () => {
    let calls = 0;
    const job = defineJob({
      name: 'toggled',
      async run() {
        calls++;
      },
    });
    const t = await deckWith([job]);
    await t.deck.runs.setEnabled('toggled', false, admin);
    await expect(t.deck.runs.create({ job: 'toggled', principal: alice })).rejects.toMatchObject({
      code: 'JOB_DISABLED',
    });
    await expect(t.deck.runs.setEnabled('toggled', true, alice)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await t.deck.runs.setEnabled('toggled', true, admin);
    const { run } = await t.deck.runs.create({ job: 'toggled', principal: alice });
    await t.waitForStatus(run.id, 'completed');
    expect(calls).toBe(1);
  });
});

describe('delayed runs', () => {
  it('a run delayed in this process starts when it falls due, not at the next poll', async () => {
    const started = deferred<number>();
    const job = defineJob({
      name: 'later',
      run: () => started.resolve(Date.now()),
    });
    // Polls 30 s apart: only the due-time wake-up can start the run in time.
    const t = await deckWith([job], { worker: { pollMs: 30_000, cancelPollMs: 30_000 } });
    const runAt = new Date(Date.now() + 300);
    await t.deck.runs.create({ job: 'later', runAt, principal: alice });
    const at = await started.promise;
    expect(at).toBeGreaterThanOrEqual(runAt.getTime());
    expect(at - runAt.getTime()).toBeLessThan(5_000);
  });
});

describe('who may cancel', () => {
  it('only the creator or an admin may cancel or retry a run', async () => {
    const job = defineJob({ name: 'owned', run: () => null });
    const t = await deckWith([job], { worker: false });
    const { run } = await t.deck.runs.create({ job: 'owned', principal: alice });
    await expect(t.deck.cancels.cancel(run.id, {}, bob)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(
      t.deck.cancels.cancel(run.id, {}, { name: 'alice', role: 'viewer' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.deck.runs.get(run.id)).status).toBe('pending');
    const { run: cancelled } = await t.deck.cancels.cancel(run.id, { reason: 'by admin' }, admin);
    expect(cancelled.cancel).toMatchObject({ requestedBy: 'root', reason: 'by admin' });
    await expect(t.deck.runs.retry(run.id, bob)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const again = await t.deck.runs.retry(run.id, alice);
    expect(again).toMatchObject({
      trigger: 'retry',
      retryOf: run.id,
      status: 'pending',
      createdBy: 'alice',
    });
    await expect(
      t.deck.cancels.cancel('0190a0b0-0000-7000-8000-000000000000', {}, admin),
    ).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  });

  it('refuses with RUN_FINISHED on a finished run and carries the run', async () => {
    const job = defineJob({ name: 'quick', run: () => 'done' });
    const t = await deckWith([job]);
    const { run } = await t.deck.runs.create({ job: 'quick', principal: alice });
    await t.waitForStatus(run.id, 'completed');
    const err = await t.deck.cancels
      .cancel(run.id, { mode: 'force' }, alice)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RUN_FINISHED', data: { id: run.id, status: 'completed' } });
    expect((await t.deck.runs.get(run.id)).status).toBe('completed');
  });

  it('bulk cancel reports per run', async () => {
    const job = defineJob({ name: 'bulk', run: () => null });
    const t = await deckWith([job], { worker: false });
    const mine = await Promise.all(
      [1, 2, 3].map(() => t.deck.runs.create({ job: 'bulk', principal: alice })),
    );
    const theirs = await t.deck.runs.create({ job: 'bulk', principal: bob });
    const report = await t.deck.cancels.cancelMany({ job: 'bulk' }, { reason: 'cleanup' }, alice);
    const byId = Object.fromEntries(report.results.map((r) => [r.id, r]));
    for (const { run } of mine)
      expect(byId[run.id]).toMatchObject({ outcome: 'cancel-now', status: 'cancelled' });
    expect(byId[theirs.run.id]).toMatchObject({ outcome: 'error', error: 'FORBIDDEN' });
    expect(report.truncated).toBe(false);
    const byAdmin = await t.deck.cancels.cancelMany(
      { ids: [theirs.run.id, mine[0]!.run.id] },
      {},
      admin,
    );
    expect(byAdmin.results.map((r) => r.outcome)).toEqual(['cancel-now', 'unchanged']);
  });
});
