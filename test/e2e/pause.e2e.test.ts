/**
 * Pause and resume over real HTTP: a running run stops after its current step and waits paused;
 * a resume goes on after its last completed step; a waiting run is held at once; a paused run is
 * cancelled at once; only the creator or an admin may pause or resume; wrong statuses are 409.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  UNKNOWN_RUN_ID,
  closeAndCheckNoTokenLogged,
  createRun,
  expectErrorBody,
  gateJob,
  getRun,
  waitForLog,
  waitForStatus,
} from './support.js';

const gates = new Gates();
const GATE = 'e2e.gate';
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer([gateJob(gates, { name: GATE })]);
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
});

const post = (id: string, what: 'pause' | 'resume', token: string = TEST_TOKENS.alice) =>
  server.request('POST', `/api/runs/${id}/${what}`, { token });

describe('pause and resume over HTTP', () => {
  it('a running run finishes its step, is paused, then resumed after its last completed step', async () => {
    const key = gates.key();
    const run = await createRun(server, GATE, { input: { key, steps: 3 } });
    await gates.get(key).entered.promise;
    const paused = await post(run.id, 'pause');
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({
      action: 'request',
      run: { status: 'running', pause: { requestedBy: 'alice', requestedAt: expect.any(String) } },
    });
    await waitForLog(server, run.id, 'pause delivered');
    gates.get(key).release.resolve();
    const held = await waitForStatus(server, run.id, 'paused', 'completed');
    expect(held).toMatchObject({
      status: 'paused',
      workerId: null,
      pause: { requestedBy: 'alice' },
    });
    expect((await post(run.id, 'pause')).body).toMatchObject({ action: 'unchanged' });

    const resumed = await post(run.id, 'resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body.run).toMatchObject({ status: 'pending', pause: null });
    const done = await waitForStatus(server, run.id, 'completed', 'failed');
    expect(done).toMatchObject({ status: 'completed', attempt: 2 });
    // Step 1 (the gated one) ran once: the second attempt took its stored result.
    expect(gates.get(key).starts).toBe(2);
    const steps = await server.request('GET', `/api/runs/${run.id}`, { token: TEST_TOKENS.viewer });
    expect(
      (steps.body.run.steps as { name: string; attempt: number }[]).map((s) => [s.name, s.attempt]),
    ).toEqual([
      ['step 1', 1],
      ['step 2', 2],
      ['step 3', 2],
    ]);
  });

  it('a scheduled run is paused at once; a paused run is cancelled at once', async () => {
    const run = await createRun(server, GATE, { input: { key: gates.key() }, runAt: inAnHour() });
    const paused = await post(run.id, 'pause');
    expect(paused.body).toMatchObject({ action: 'hold-now', run: { status: 'paused' } });
    const cancelled = await server.request('POST', `/api/runs/${run.id}/cancel`, {
      token: TEST_TOKENS.alice,
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ action: 'cancel-now', run: { status: 'cancelled' } });
  });

  it('wrong statuses are 409: resume of a run not paused, pause or resume of a finished run', async () => {
    const run = await createRun(server, GATE, { input: { key: gates.key() }, runAt: inAnHour() });
    const notPaused = await post(run.id, 'resume');
    expect(notPaused.status).toBe(409);
    expectErrorBody(notPaused.body, 'RUN_NOT_PAUSED');
    await server.request('POST', `/api/runs/${run.id}/cancel`, { token: TEST_TOKENS.alice });
    for (const what of ['pause', 'resume'] as const) {
      const res = await post(run.id, what);
      expect(res.status).toBe(409);
      expectErrorBody(res.body, 'RUN_FINISHED');
    }
  });

  it('a cancelling run cannot be paused (409 INVALID_TRANSITION)', async () => {
    const key = gates.key();
    const run = await createRun(server, GATE, { input: { key } });
    await gates.get(key).entered.promise;
    await server.request('POST', `/api/runs/${run.id}/cancel`, { token: TEST_TOKENS.alice });
    expect((await getRun(server, run.id)).status).toBe('cancelling');
    const res = await post(run.id, 'pause');
    expect(res.status).toBe(409);
    expectErrorBody(res.body, 'INVALID_TRANSITION');
    gates.get(key).release.resolve();
    await waitForStatus(server, run.id, 'cancelled');
  });

  it('ownership: 401 without a token, 403 for a viewer or another operator, 404 for an unknown run; an admin may', async () => {
    const run = await createRun(server, GATE, { input: { key: gates.key() }, runAt: inAnHour() });
    for (const what of ['pause', 'resume'] as const) {
      const anonymous = await server.request('POST', `/api/runs/${run.id}/${what}`);
      expect(anonymous.status).toBe(401);
      for (const token of [TEST_TOKENS.viewer, TEST_TOKENS.bob]) {
        const res = await post(run.id, what, token);
        expect(res.status).toBe(403);
        expectErrorBody(res.body, 'FORBIDDEN');
      }
      const unknown = await post(UNKNOWN_RUN_ID, what, TEST_TOKENS.admin);
      expect(unknown.status).toBe(404);
      expectErrorBody(unknown.body, 'RUN_NOT_FOUND');
      const admin = await post(run.id, what, TEST_TOKENS.admin);
      expect(admin.status).toBe(200);
    }
    // Resumed: due now, so a worker may have taken it already.
    const after = await getRun(server, run.id);
    expect(['pending', 'running']).toContain(after.status);
    expect(after.pause).toBeNull();
    await server.request('POST', `/api/runs/${run.id}/cancel`, {
      token: TEST_TOKENS.admin,
      body: { mode: 'force' },
    });
  });
});
