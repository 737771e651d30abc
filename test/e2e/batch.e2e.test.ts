/**
 * POST /api/runs/batch over real HTTP: each run checked on its own (a bad one is that run's
 * error), idempotency keys within a batch and across requests, jobs that allow no concurrent run,
 * the bounds of the body, roles, and the events, metrics and pickup that single creates get.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, JobdeckClient } from '../../src/client/client.js';
import { defineJob } from '../../src/jobs/define.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  closeAndCheckNoTokenLogged,
  expectErrorBody,
  gateJob,
  getRun,
  openEvents,
  quickJob,
  waitForStatus,
} from './support.js';

const gates = new Gates();
const QUICK = 'batch.quick';
const OTHER = 'batch.other';
const EXCLUSIVE = 'batch.exclusive';
const HELD = 'batch.held';
const DISABLED = 'batch.disabled';
const BY_SCHEDULE = 'batch.by_schedule';
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer([
    quickJob(QUICK),
    quickJob(OTHER),
    gateJob(gates, { name: EXCLUSIVE, allowConcurrent: false }),
    gateJob(gates, { name: HELD }),
    quickJob(DISABLED),
    defineJob({ name: BY_SCHEDULE, canTrigger: false, run: () => null }),
  ]);
  const off = await server.request('PATCH', `/api/jobs/${DISABLED}`, {
    token: TEST_TOKENS.admin,
    body: { enabled: false },
  });
  expect(off.status).toBe(200);
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
});

function batch(runs: unknown, token: string | null = TEST_TOKENS.alice) {
  return server.request('POST', '/api/runs/batch', { token, body: { runs } });
}

/** The results of a batch that the server accepted (202). */
async function batchOk(runs: unknown[], token?: string) {
  const res = await batch(runs, token);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.results).toHaveLength(runs.length);
  // Each result is one of the two documented shapes.
  for (const result of res.body.results as object[]) {
    if ('run' in result) expect(Object.keys(result).sort()).toEqual(['created', 'run']);
    else
      expect(['details', 'error', 'message']).toEqual(expect.arrayContaining(Object.keys(result)));
  }
  return res.body.results;
}

/** The value of one series of GET /metrics (0 when absent). */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const res = await server.request('GET', '/metrics', { token: TEST_TOKENS.viewer });
  expect(res.status).toBe(200);
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const line = (res.body as string)
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(wanted));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('POST /api/runs/batch', () => {
  it('checks each run on its own: good runs start, each bad one gets its own error, in order', async () => {
    const later = inAnHour();
    const results = await batchOk([
      { job: QUICK, input: { n: 1 } },
      { job: 'batch.nothing', input: {} },
      { job: QUICK, input: { n: 'two' } },
      { job: OTHER, priority: 'high' },
      { job: QUICK, colour: 'blue' },
      42,
      { job: DISABLED },
      { job: BY_SCHEDULE },
      { job: OTHER, input: { n: 7 }, runAt: later, priority: 5, idempotencyKey: 'later-7' },
      { job: QUICK },
    ]);
    const [
      quick,
      unknown,
      badInput,
      badPriority,
      extraField,
      notObject,
      disabled,
      byHand,
      delayed,
      plain,
    ] = results;
    expect(quick).toMatchObject({
      created: true,
      run: { job: QUICK, input: { n: 1 }, createdBy: 'alice', trigger: 'api' },
    });
    expect(unknown).toEqual({
      error: 'JOB_NOT_FOUND',
      message: expect.stringContaining('batch.nothing'),
    });
    expect(badInput).toMatchObject({ error: 'INVALID_INPUT', details: [{ path: ['input', 'n'] }] });
    expect(badPriority).toMatchObject({
      error: 'INVALID_INPUT',
      details: [{ path: ['priority'] }],
    });
    expect(extraField.error).toBe('INVALID_INPUT');
    expect(extraField.details[0].message).toContain('colour');
    expect(notObject).toMatchObject({ error: 'INVALID_INPUT', details: [{ path: [] }] });
    expect(disabled).toMatchObject({ error: 'JOB_DISABLED' });
    expect(byHand).toMatchObject({ error: 'FORBIDDEN' });
    expect(delayed).toMatchObject({
      created: true,
      run: {
        job: OTHER,
        status: 'scheduled',
        runAt: new Date(later).toISOString(),
        priority: 5,
        idempotencyKey: 'later-7',
      },
    });
    expect(plain).toMatchObject({ created: true, run: { job: QUICK, input: { n: 0 } } });

    // The runs were stored as answered, and the due ones run: the batch woke the worker.
    expect(await getRun(server, delayed.run.id)).toMatchObject({ status: 'scheduled' });
    for (const { run } of [quick, plain]) await waitForStatus(server, run.id, 'completed');
  });

  it('an idempotency key names one run: twice in a batch, again in a later batch or a single create', async () => {
    const single = await server.request('POST', `/api/jobs/${QUICK}/runs`, {
      token: TEST_TOKENS.alice,
      body: { input: { n: 1 }, idempotencyKey: 'order-1' },
    });
    expect(single.status).toBe(202);
    const first = await batchOk([
      { job: QUICK, input: { n: 2 }, idempotencyKey: 'order-2' },
      { job: QUICK, input: { n: 1 }, idempotencyKey: 'order-1' },
      { job: QUICK, input: { n: 3 }, idempotencyKey: 'order-2' },
      { job: OTHER, idempotencyKey: 'order-2' },
    ]);
    expect(first.map((r: { created: boolean }) => r.created)).toEqual([true, false, false, true]);
    expect(first[1].run.id).toBe(single.body.run.id);
    expect(first[2].run).toEqual(first[0].run);
    expect(first[3].run.id).not.toBe(first[0].run.id);

    const again = await batchOk([
      { job: QUICK, idempotencyKey: 'order-2' },
      { job: OTHER, idempotencyKey: 'order-2' },
    ]);
    expect(again.map((r: { run: { id: string } }) => r.run.id)).toEqual([
      first[0].run.id,
      first[3].run.id,
    ]);
    expect(again.map((r: { created: boolean }) => r.created)).toEqual([false, false]);
    // The key is alice's: bob's batch with it makes a run of bob's own.
    const [bobs] = await batchOk([{ job: QUICK, idempotencyKey: 'order-2' }], TEST_TOKENS.bob);
    expect(bobs).toMatchObject({ created: true, run: { createdBy: 'bob' } });
    expect(bobs.run.id).not.toBe(first[0].run.id);
  });

  it('a job that allows no concurrent run starts one run of a batch; the others are ALREADY_RUNNING', async () => {
    const key = gates.key();
    const results = await batchOk([
      { job: EXCLUSIVE, input: { key } },
      { job: QUICK },
      { job: EXCLUSIVE, input: { key: gates.key() } },
    ]);
    expect(results[0]).toMatchObject({ created: true, run: { job: EXCLUSIVE } });
    expect(results[1]).toMatchObject({ created: true });
    expect(results[2]).toMatchObject({ error: 'ALREADY_RUNNING' });
    await gates.get(key).entered.promise;
    gates.get(key).release.resolve();
    await waitForStatus(server, results[0].run.id, 'completed');
  });

  it('a thousand runs in one request, answered in order, each stored', async () => {
    const runs = Array.from({ length: 1000 }, (_, n) => ({
      job: HELD,
      input: { key: `thousand-${n}` },
      runAt: inAnHour(),
    }));
    const results = await batchOk(runs);
    expect(results.every((r: { created: boolean }) => r.created)).toBe(true);
    expect(results.map((r: { run: { input: { key: string } } }) => r.run.input.key)).toEqual(
      runs.map((run) => run.input.key),
    );
    expect(new Set(results.map((r: { run: { id: string } }) => r.run.id)).size).toBe(1000);
    const listed = await server.request(
      'GET',
      `/api/runs?job=${HELD}&status=scheduled&total=true`,
      {
        token: TEST_TOKENS.viewer,
      },
    );
    expect(listed.body.total).toBe(1000);
  });

  it("the typed client's triggerMany sends a batch and returns its results", async () => {
    const client = new JobdeckClient({ url: server.url, token: TEST_TOKENS.bob });
    const results = await client.triggerMany([
      { job: QUICK, input: { n: 5 }, runAt: inAnHour(), priority: 2 },
      { job: 'batch.nothing' },
    ]);
    expect(results).toEqual([
      {
        created: true,
        run: expect.objectContaining({
          job: QUICK,
          input: { n: 5 },
          createdBy: 'bob',
          priority: 2,
        }),
      },
      { error: 'JOB_NOT_FOUND', message: expect.any(String) },
    ]);
    const refused = await client.triggerMany([]).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 400, code: 'INVALID_INPUT' });
  });

  it('refuses a body without 1 to 1000 runs with 400 naming runs', async () => {
    const cases: unknown[] = [
      { runs: [] },
      { runs: Array.from({ length: 1001 }, () => ({ job: QUICK })) },
      { runs: { job: QUICK } },
      {},
    ];
    for (const body of cases) {
      const res = await server.request('POST', '/api/runs/batch', {
        token: TEST_TOKENS.alice,
        body,
      });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expectErrorBody(res.body, 'INVALID_INPUT');
      expect(res.body.details[0].path[0]).toBe('runs');
    }
    const extra = await server.request('POST', '/api/runs/batch', {
      token: TEST_TOKENS.alice,
      body: { runs: [{ job: QUICK }], dryRun: true },
    });
    expect(extra.status).toBe(400);
    expectErrorBody(extra.body, 'INVALID_INPUT');
  });

  it('needs an operator: a viewer gets 403, no token 401, and nothing is created', async () => {
    const viewer = await batch([{ job: QUICK, idempotencyKey: 'by-viewer' }], TEST_TOKENS.viewer);
    expect(viewer.status).toBe(403);
    expectErrorBody(viewer.body, 'FORBIDDEN');
    const anonymous = await batch([{ job: QUICK, idempotencyKey: 'by-viewer' }], null);
    expect(anonymous.status).toBe(401);
    expectErrorBody(anonymous.body, 'UNAUTHENTICATED');
    const listed = await server.request('GET', `/api/runs?job=${QUICK}&createdBy=viewer`, {
      token: TEST_TOKENS.viewer,
    });
    expect(listed.body.runs).toEqual([]);
  });

  it('each created run is a run.created event and counted in jobdeck_runs_created_total, as single creates are', async () => {
    const before = await metric('jobdeck_runs_created_total', { job: OTHER, trigger: 'api' });
    const stream = openEvents(server, { job: OTHER });
    await stream.opened;
    const results = await batchOk([
      { job: OTHER, input: { n: 1 }, runAt: inAnHour() },
      { job: OTHER, input: { n: 'x' } },
      { job: OTHER, input: { n: 2 }, runAt: inAnHour() },
      { job: OTHER, input: { n: 3 }, runAt: inAnHour(), idempotencyKey: 'order-2' },
    ]);
    // The last one's key names an earlier run of alice's (no new run, no event).
    expect(results.map((r: { created?: boolean }) => r.created)).toEqual([
      true,
      undefined,
      true,
      false,
    ]);
    const ids = [results[0].run.id, results[2].run.id];
    for (const id of ids)
      await stream.waitFor(
        (e) => e.name === 'run.created' && (e.data as { run: { id: string } }).run.id === id,
        `run.created of ${id}`,
      );
    // The stream follows the feed in order: once a later create is seen, no batch event is due.
    const marker = await server.request('POST', `/api/jobs/${OTHER}/runs`, {
      token: TEST_TOKENS.alice,
      body: { runAt: inAnHour() },
    });
    const markerId = marker.body.run.id as string;
    await stream.waitFor(
      (e) => e.name === 'run.created' && (e.data as { run: { id: string } }).run.id === markerId,
      'run.created of the marker',
    );
    const created = stream.events
      .filter((e) => e.name === 'run.created')
      .map((e) => (e.data as { run: { id: string } }).run.id);
    expect(created).toEqual([...ids, markerId]);
    await stream.close();
    expect(await metric('jobdeck_runs_created_total', { job: OTHER, trigger: 'api' })).toBe(
      before + 3,
    );
  });
});
