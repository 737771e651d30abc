/**
 * SPEC.md "Cancellation" over real HTTP: every row of the table in both modes, idempotent
 * repeats, the cancel record, ownership (only the creator or an admin) and bulk cancel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoNodes } from '../../src/demo/jobs.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  UNKNOWN_RUN_ID,
  createRun,
  expectErrorBody,
  closeAndCheckNoTokenLogged,
  failingJob,
  fanOutJob,
  gateJob,
  getLogs,
  getRun,
  quickJob,
  waitForLog,
  waitForStatus,
} from './support.js';

const gates = new Gates();
const GATE = 'e2e.gate';
/** One run at a time: while one is held, the next stays `pending`. */
const SINGLE = 'e2e.single';
const QUICK = 'e2e.quick';
const FAILING = 'e2e.failing';
const FANOUT = 'e2e.fanout';
const LATER = 'e2e.later';
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer([
    gateJob(gates, { name: GATE }),
    gateJob(gates, { name: SINGLE, concurrency: 1 }),
    gateJob(gates, { name: LATER }),
    quickJob(QUICK),
    failingJob(FAILING),
    fanOutJob(gates, FANOUT),
    demoNodes,
  ]);
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
});

type Mode = 'graceful' | 'force';

function cancel(id: string, body?: unknown, token: string = TEST_TOKENS.alice) {
  return server.request('POST', `/api/runs/${id}/cancel`, {
    token,
    ...(body === undefined ? {} : { body }),
  });
}

/** Start a gated run and wait until its handler is held inside step 1. */
async function runningGateRun(job = GATE, token: string = TEST_TOKENS.alice) {
  const key = gates.key();
  const run = await createRun(server, job, { input: { key } }, token);
  await gates.get(key).entered.promise;
  expect((await getRun(server, run.id)).status).toBe('running');
  return { run, key, gate: gates.get(key) };
}

describe('cancel a scheduled run (runAt in the future)', () => {
  it.each<Mode>(['graceful', 'force'])(
    '%s: cancelled at once, the handler never starts',
    async (mode) => {
      const key = gates.key();
      const run = await createRun(server, GATE, { input: { key }, runAt: inAnHour() });
      expect(run.status).toBe('scheduled');

      const res = await cancel(run.id, { mode, reason: `no longer needed (${mode})` });
      expect(res.status).toBe(200);
      expect(res.body.action).toBe('cancel-now');
      expect(res.body.run.status).toBe('cancelled');
      expect(res.body.run.finishedAt).not.toBeNull();

      const stored = await getRun(server, run.id);
      expect(stored.status).toBe('cancelled');
      expect(stored.startedAt).toBeNull();
      expect(stored.attempt).toBe(0);
      expect(stored.cancel).toEqual({
        mode,
        reason: `no longer needed (${mode})`,
        requestedBy: 'alice',
        requestedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(Date.parse(stored.cancel.requestedAt)).toBeLessThanOrEqual(Date.now());
      expect(gates.get(key).starts).toBe(0);
    },
  );
});

describe('cancel a pending run (its job is busy: concurrency 1)', () => {
  it('graceful and force both cancel at once; the handlers never start', async () => {
    const blocker = await runningGateRun(SINGLE);
    const waiting: { mode: Mode; key: string; id: string }[] = [];
    for (const mode of ['graceful', 'force'] as const) {
      const key = gates.key();
      const run = await createRun(server, SINGLE, { input: { key } });
      expect(run.status).toBe('pending');
      waiting.push({ mode, key, id: run.id });
    }
    for (const { mode, id } of waiting) {
      // Still waiting: the only slot of the job is held by the blocker.
      expect((await getRun(server, id)).status).toBe('pending');
      const res = await cancel(id, { mode });
      expect(res.status).toBe(200);
      expect(res.body.action).toBe('cancel-now');
      expect(res.body.run.status).toBe('cancelled');
      expect(res.body.run.cancel).toMatchObject({ mode, reason: null, requestedBy: 'alice' });
    }

    // Free the slot: the blocker completes, and neither cancelled run is claimed afterwards.
    blocker.gate.release.resolve();
    await waitForStatus(server, blocker.run.id, 'completed');
    const after = await createRun(server, SINGLE, { input: { key: gates.key(), steps: 1 } });
    gates.get(after.input.key).release.resolve();
    await waitForStatus(server, after.id, 'completed');
    for (const { key, id } of waiting) {
      const stored = await getRun(server, id);
      expect(stored.status).toBe('cancelled');
      expect(stored.attempt).toBe(0);
      expect(stored.startedAt).toBeNull();
      expect(gates.get(key).starts).toBe(0);
    }
  });
});

describe('cancel a running run', () => {
  it('graceful: cancelling at once; the current step finishes; then cancelled with progress kept', async () => {
    const { run, gate } = await runningGateRun();

    const res = await cancel(run.id, { mode: 'graceful', reason: 'stop after this step' });
    expect(res.status).toBe(200);
    expect(res.body.action).toBe('request');
    expect(res.body.run.status).toBe('cancelling');
    expect(res.body.run.finishedAt).toBeNull();
    expect((await getRun(server, run.id)).status).toBe('cancelling');

    // The worker running the run writes when the cancel reached it.
    const delivered = await waitForLog(server, run.id, 'cancel delivered');
    expect(delivered).toMatchObject({ level: 'info', data: { mode: 'graceful' } });

    // The step in progress goes on to its end; no next step starts.
    gate.release.resolve();
    const ended = await waitForStatus(
      server,
      run.id,
      'cancelled',
      'completed',
      'failed',
      'partial',
    );
    expect(ended.status).toBe('cancelled');
    expect(gate.signalAborted).toBe(false);
    const messages = (await getLogs(server, run.id)).map((l) => l.message);
    expect(messages).toContain('step 1 ended');
    expect(messages).not.toContain('step 2 started');
    expect(ended.progress).toMatchObject({ processed: 1, total: 2, percent: 50 });
    expect(ended.cancel).toMatchObject({
      mode: 'graceful',
      reason: 'stop after this step',
      requestedBy: 'alice',
    });
    // The cleanup registered with onCancel ran once the handler stopped.
    await gate.cleaned.promise;
  });

  it('graceful on a fan-out: the current item finishes, the rest are cancelled, the run ends partial', async () => {
    const key = gates.key('fan');
    const run = await createRun(server, FANOUT, {
      input: { key, items: ['a', 'b', 'c'], hold: ['b'] },
    });
    const held = gates.get(`${key}:b`);
    await held.entered.promise;
    const res = await cancel(run.id, { mode: 'graceful' });
    expect(res.status).toBe(200);
    expect(res.body.run.status).toBe('cancelling');
    await waitForLog(server, run.id, 'cancel delivered');
    held.release.resolve();
    const ended = await waitForStatus(server, run.id, 'partial', 'cancelled', 'completed');
    expect(ended.status).toBe('partial');
    expect(ended.items).toEqual([
      { key: 'a', status: 'succeeded' },
      { key: 'b', status: 'succeeded' },
      { key: 'c', status: 'cancelled' },
    ]);
    expect(ended.cancel).toMatchObject({ mode: 'graceful', requestedBy: 'alice' });
  });

  it("force: cancelled in the store in the 200 answer; the handler's signal aborts; cleanups run", async () => {
    const { run, gate } = await runningGateRun();

    const res = await cancel(run.id, { mode: 'force', reason: 'now' });
    expect(res.status).toBe(200);
    expect(res.body.action).toBe('force');
    expect(res.body.run.status).toBe('cancelled');
    expect(res.body.run.finishedAt).not.toBeNull();
    expect(res.body.run.cancel).toMatchObject({
      mode: 'force',
      reason: 'now',
      requestedBy: 'alice',
    });

    const reason = await gate.aborted.promise;
    expect(reason).toMatchObject({ name: 'RunCancelledError', kind: 'cancel', mode: 'force' });
    expect(await gate.cleaned.promise).toMatchObject({ kind: 'cancel', mode: 'force' });
    await gate.settled.promise;
    const delivered = await waitForLog(server, run.id, 'cancel delivered');
    expect(delivered.data).toEqual({ mode: 'force' });

    // The handler stopped inside step 1 and its end did not overwrite the stored outcome.
    const stored = await getRun(server, run.id);
    expect(stored.status).toBe('cancelled');
    expect(stored.result).toBeNull();
    const messages = (await getLogs(server, run.id)).map((l) => l.message);
    expect(messages).toContain('step 1 started');
    expect(messages).not.toContain('step 1 ended');
  });
});

describe('cancel a cancelling run', () => {
  it('graceful again is unchanged (idempotent); force escalates to cancelled at once', async () => {
    const { run, gate } = await runningGateRun();
    const first = await cancel(run.id, { mode: 'graceful', reason: 'first ask' });
    expect(first.body.run.status).toBe('cancelling');

    const again = await cancel(
      run.id,
      { mode: 'graceful', reason: 'second ask' },
      TEST_TOKENS.admin,
    );
    expect(again.status).toBe(200);
    expect(again.body.action).toBe('unchanged');
    expect(again.body.run.status).toBe('cancelling');
    // The first request's record stands.
    expect(again.body.run.cancel).toEqual(first.body.run.cancel);

    const forced = await cancel(run.id, { mode: 'force', reason: 'taking too long' });
    expect(forced.status).toBe(200);
    expect(forced.body.action).toBe('force');
    expect(forced.body.run.status).toBe('cancelled');
    expect(forced.body.run.cancel).toMatchObject({ mode: 'force', reason: 'taking too long' });
    expect(await gate.aborted.promise).toMatchObject({ kind: 'cancel', mode: 'force' });
    await gate.settled.promise;
    expect((await getRun(server, run.id)).status).toBe('cancelled');
  });
});

describe('force after graceful without a reason', () => {
  it('keeps the graceful request’s reason on the force record', async () => {
    const { run, gate } = await runningGateRun();
    await cancel(run.id, { mode: 'graceful', reason: 'nightly window closed' });
    const forced = await cancel(run.id, { mode: 'force' });
    expect(forced.body.action).toBe('force');
    expect(forced.body.run.cancel).toMatchObject({
      mode: 'force',
      reason: 'nightly window closed',
    });
    await gate.settled.promise;
  });
});

describe('cancel a cancelled run', () => {
  it.each<Mode>(['graceful', 'force'])('%s: 200 unchanged, the record kept', async (mode) => {
    const run = await createRun(server, GATE, { input: { key: gates.key() }, runAt: inAnHour() });
    const first = await cancel(run.id, { mode: 'graceful', reason: 'once' });
    expect(first.body.run.status).toBe('cancelled');

    for (const token of [TEST_TOKENS.alice, TEST_TOKENS.admin]) {
      const res = await cancel(run.id, { mode, reason: 'twice' }, token);
      expect(res.status).toBe(200);
      expect(res.body.action).toBe('unchanged');
      expect(res.body.run.status).toBe('cancelled');
      expect(res.body.run.cancel).toEqual(first.body.run.cancel);
      expect(res.body.run.finishedAt).toBe(first.body.run.finishedAt);
    }
    expect((await getRun(server, run.id)).cancel).toEqual({
      mode: 'graceful',
      reason: 'once',
      requestedBy: 'alice',
      requestedAt: first.body.run.cancel.requestedAt,
    });
  });

  it('without a body the mode is graceful', async () => {
    const run = await createRun(server, GATE, { input: { key: gates.key() }, runAt: inAnHour() });
    const res = await cancel(run.id);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.run.cancel).toMatchObject({ mode: 'graceful', reason: null });
  });
});

describe('cancel a finished run', () => {
  const finished: Record<'completed' | 'partial' | 'failed', string> = {
    completed: '',
    partial: '',
    failed: '',
  };
  beforeAll(async () => {
    finished.completed = (await createRun(server, QUICK, {})).id;
    finished.failed = (await createRun(server, FAILING, {})).id;
    finished.partial = (
      await createRun(server, 'demo.nodes', {
        input: { nodes: ['n1', 'n2'], durationMs: 0, failNodes: ['n2'] },
      })
    ).id;
    for (const [status, id] of Object.entries(finished)) await waitForStatus(server, id, status);
  });

  it.each([
    ['completed', 'graceful'],
    ['completed', 'force'],
    ['partial', 'graceful'],
    ['partial', 'force'],
    ['failed', 'graceful'],
    ['failed', 'force'],
  ] as const)('%s + %s: 409 RUN_FINISHED with the run, status unchanged', async (status, mode) => {
    const id = finished[status];
    const before = await getRun(server, id);
    for (const token of [TEST_TOKENS.alice, TEST_TOKENS.admin]) {
      const res = await cancel(id, { mode }, token);
      expect(res.status).toBe(409);
      expectErrorBody(res.body, 'RUN_FINISHED');
      expect(res.body.run).toMatchObject({ id, status, cancel: null });
    }
    expect(await getRun(server, id)).toEqual(before);
  });
});

describe('ownership', () => {
  it("another operator may neither cancel nor retry alice's run; it goes on and completes", async () => {
    const { run, gate } = await runningGateRun();
    for (const mode of ['graceful', 'force']) {
      const res = await cancel(run.id, { mode }, TEST_TOKENS.bob);
      expect(res.status).toBe(403);
      expectErrorBody(res.body, 'FORBIDDEN');
    }
    const retry = await server.request('POST', `/api/runs/${run.id}/retry`, {
      token: TEST_TOKENS.bob,
    });
    expect(retry.status).toBe(403);
    expectErrorBody(retry.body, 'FORBIDDEN');
    const viewer = await cancel(run.id, { mode: 'force' }, TEST_TOKENS.viewer);
    expect(viewer.status).toBe(403);
    expectErrorBody(viewer.body, 'FORBIDDEN');
    const bulk = await server.request('POST', '/api/runs/cancel', {
      token: TEST_TOKENS.bob,
      body: { ids: [run.id], mode: 'force' },
    });
    expect(bulk.status).toBe(200);
    // Each refusal says why in the words of the single cancel's answer.
    expect(bulk.body.results).toEqual([
      {
        id: run.id,
        outcome: 'error',
        error: 'FORBIDDEN',
        message: `Only alice or an admin may cancel run ${run.id}.`,
      },
    ]);

    const still = await getRun(server, run.id);
    expect(still.status).toBe('running');
    expect(still.cancel).toBeNull();
    expect(gate.signalAborted).toBe(false);
    expect((await getLogs(server, run.id)).map((l) => l.message)).not.toContain('cancel delivered');

    gate.release.resolve();
    const ended = await waitForStatus(server, run.id, 'completed', 'cancelled', 'failed');
    expect(ended.status).toBe('completed');
    expect(ended.cancel).toBeNull();
  });

  it("an admin may cancel and retry alice's run; bob still may not retry it", async () => {
    const { run, gate } = await runningGateRun();
    const res = await cancel(run.id, { mode: 'force', reason: 'admin says' }, TEST_TOKENS.admin);
    expect(res.status).toBe(200);
    expect(res.body.run.status).toBe('cancelled');
    expect(res.body.run.cancel).toMatchObject({ mode: 'force', requestedBy: 'root' });
    await gate.aborted.promise;
    await gate.settled.promise;

    const bob = await server.request('POST', `/api/runs/${run.id}/retry`, {
      token: TEST_TOKENS.bob,
    });
    expect(bob.status).toBe(403);
    expectErrorBody(bob.body, 'FORBIDDEN');
    const retried = await server.request('POST', `/api/runs/${run.id}/retry`, {
      token: TEST_TOKENS.admin,
    });
    expect(retried.status).toBe(202);
    expect(retried.body.run).toMatchObject({
      retryOf: run.id,
      createdBy: 'root',
      trigger: 'retry',
    });
    // The retry has the same input, hence the same gate: let it through.
    gate.release.resolve();
    await waitForStatus(server, retried.body.run.id, 'completed');
  });
});

describe('bulk cancel', () => {
  it('by ids: a line per run, refusals included', async () => {
    const mine1 = await createRun(server, LATER, {
      input: { key: gates.key() },
      runAt: inAnHour(),
    });
    const mine2 = await createRun(server, LATER, {
      input: { key: gates.key() },
      runAt: inAnHour(),
    });
    const bobs = await createRun(
      server,
      LATER,
      { input: { key: gates.key() }, runAt: inAnHour() },
      TEST_TOKENS.bob,
    );
    const done = await createRun(server, QUICK, {});
    await waitForStatus(server, done.id, 'completed');

    const res = await server.request('POST', '/api/runs/cancel', {
      token: TEST_TOKENS.alice,
      body: { ids: [mine1.id, mine2.id, bobs.id, done.id, UNKNOWN_RUN_ID], reason: 'cleanup' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      truncated: false,
      results: [
        { id: mine1.id, outcome: 'cancel-now', status: 'cancelled' },
        { id: mine2.id, outcome: 'cancel-now', status: 'cancelled' },
        {
          id: bobs.id,
          outcome: 'error',
          error: 'FORBIDDEN',
          message: `Only bob or an admin may cancel run ${bobs.id}.`,
        },
        {
          id: done.id,
          outcome: 'error',
          error: 'RUN_FINISHED',
          message: `Run ${done.id} has already ended: completed.`,
          status: 'completed',
        },
        {
          id: UNKNOWN_RUN_ID,
          outcome: 'error',
          error: 'RUN_NOT_FOUND',
          message: `No run has id ${UNKNOWN_RUN_ID}.`,
        },
      ],
    });
    expect((await getRun(server, mine1.id)).cancel).toMatchObject({
      reason: 'cleanup',
      requestedBy: 'alice',
      mode: 'graceful',
    });
    expect((await getRun(server, bobs.id)).status).toBe('scheduled');
    expect((await getRun(server, done.id)).status).toBe('completed');
  });

  it('by job and status: only matching runs; other people’s runs get FORBIDDEN lines', async () => {
    // The runs of LATER already waiting (bob's from the test above, when it ran).
    const before = await server.request('GET', `/api/runs?job=${LATER}&status=scheduled`, {
      token: TEST_TOKENS.viewer,
    });
    const earlier: { id: string; createdBy: string }[] = before.body.runs;
    const alice = [
      await createRun(server, LATER, { input: { key: gates.key() }, runAt: inAnHour() }),
      await createRun(server, LATER, { input: { key: gates.key() }, runAt: inAnHour() }),
    ];
    const bob = await createRun(
      server,
      LATER,
      { input: { key: gates.key() }, runAt: inAnHour() },
      TEST_TOKENS.bob,
    );
    // A waiting run of another job is not touched.
    const other = await createRun(server, GATE, { input: { key: gates.key() }, runAt: inAnHour() });
    const alicesIds = [...alice, ...earlier.filter((r) => r.createdBy === 'alice')].map(
      (r) => r.id,
    );
    const othersIds = [bob, ...earlier.filter((r) => r.createdBy !== 'alice')].map((r) => r.id);

    const res = await server.request('POST', '/api/runs/cancel', {
      token: TEST_TOKENS.alice,
      body: { job: LATER, status: ['scheduled'], mode: 'force' },
    });
    expect(res.status).toBe(200);
    expect(res.body.truncated).toBe(false);
    const byId = new Map(res.body.results.map((r: { id: string }) => [r.id, r]));
    expect([...byId.keys()].sort()).toEqual([...alicesIds, ...othersIds].sort());
    for (const id of alicesIds)
      expect(byId.get(id)).toEqual({ id, outcome: 'cancel-now', status: 'cancelled' });
    for (const id of othersIds)
      expect(byId.get(id)).toMatchObject({ id, outcome: 'error', error: 'FORBIDDEN' });
    expect((await getRun(server, other.id)).status).toBe('scheduled');
    expect((await getRun(server, bob.id)).status).toBe('scheduled');

    // An admin's bulk cancel by job (unfinished statuses by default) takes bob's too.
    const admin = await server.request('POST', '/api/runs/cancel', {
      token: TEST_TOKENS.admin,
      body: { job: LATER },
    });
    expect(admin.status).toBe(200);
    expect(admin.body.results.map((r: { id: string }) => r.id).sort()).toEqual(othersIds.sort());
    for (const line of admin.body.results) expect(line.status).toBe('cancelled');
    const left = await server.request('GET', `/api/runs?job=${LATER}&status=scheduled,pending`, {
      token: TEST_TOKENS.viewer,
    });
    expect(left.body.runs).toEqual([]);
    expect((await getRun(server, other.id)).status).toBe('scheduled');
  });

  it('a viewer may not bulk cancel', async () => {
    const res = await server.request('POST', '/api/runs/cancel', {
      token: TEST_TOKENS.viewer,
      body: { job: GATE },
    });
    expect(res.status).toBe(403);
    expectErrorBody(res.body, 'FORBIDDEN');
  });
});

describe('the cancel record', () => {
  it('shows mode, reason, requestedBy and requestedAt in GET /api/runs/:id', async () => {
    const { run, gate } = await runningGateRun();
    const t0 = Date.now();
    await cancel(run.id, { mode: 'force', reason: 'maintenance window' });
    await gate.settled.promise;
    const stored = await getRun(server, run.id);
    expect(stored.cancel).toEqual({
      mode: 'force',
      reason: 'maintenance window',
      requestedBy: 'alice',
      requestedAt: expect.any(String),
    });
    const at = Date.parse(stored.cancel.requestedAt);
    expect(at).toBeGreaterThanOrEqual(t0 - 1000);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
