/**
 * Runs over real HTTP: the 409s (RUN_FINISHED, JOB_DISABLED, ALREADY_RUNNING), idempotency keys,
 * a partial fan-out, retries, the runs listing with filters and cursor pagination, and logs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { demoNodes } from '../../src/demo/jobs.js';
import { defineJob } from '../../src/jobs/define.js';
import { pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  SETTLED_STATUSES,
  closeAndCheckNoTokenLogged,
  expectErrorBody,
  failingJob,
  gateJob,
  getLogs,
  getRun,
  quickJob,
  waitForStatus,
} from './support.js';

const gates = new Gates();
const QUICK = 'e2e.quick';
const FAILING = 'e2e.failing';
const EXCLUSIVE = 'e2e.exclusive';
const TOGGLE = 'e2e.toggle';
const LATER = 'e2e.later';
const CHATTY = 'e2e.chatty';
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

const chattyJob = defineJob({
  name: CHATTY,
  maxAttempts: 1,
  input: z.object({ lines: z.number().int().min(1).max(100) }),
  run(ctx, input) {
    for (let n = 1; n <= input.lines; n++) ctx.log.info(`line ${n}`, { n });
    return { lines: input.lines };
  },
});

let server: TestServer;
/** Every run this file created (create and retry go through `create`/`retry` below). */
const created = new Set<string>();

beforeAll(async () => {
  server = await startTestServer([
    quickJob(QUICK),
    failingJob(FAILING),
    gateJob(gates, { name: EXCLUSIVE, allowConcurrent: false }),
    quickJob(TOGGLE),
    gateJob(gates, { name: LATER }),
    chattyJob,
    demoNodes,
  ]);
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
});

async function create(
  job: string,
  body: Record<string, unknown>,
  token: string = TEST_TOKENS.alice,
) {
  const res = await server.request('POST', `/api/jobs/${job}/runs`, { token, body });
  if (res.status === 202) created.add(res.body.run.id);
  return res;
}

async function createOk(job: string, body: Record<string, unknown> = {}, token?: string) {
  const res = await create(job, body, token);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.run;
}

async function retry(id: string, token: string = TEST_TOKENS.alice) {
  const res = await server.request('POST', `/api/runs/${id}/retry`, { token });
  if (res.status === 202) created.add(res.body.run.id);
  return res;
}

describe('409 answers', () => {
  it('JOB_DISABLED after an admin disables the job; operators and viewers may not toggle it', async () => {
    for (const token of [TEST_TOKENS.alice, TEST_TOKENS.viewer]) {
      const res = await server.request('PATCH', `/api/jobs/${TOGGLE}`, {
        token,
        body: { enabled: false },
      });
      expect(res.status).toBe(403);
      expectErrorBody(res.body, 'FORBIDDEN');
    }
    const failed = await createOk(FAILING);
    await waitForStatus(server, failed.id, 'failed');

    const off = await server.request('PATCH', `/api/jobs/${TOGGLE}`, {
      token: TEST_TOKENS.admin,
      body: { enabled: false },
    });
    expect(off.status).toBe(200);
    expect(off.body.job).toMatchObject({ name: TOGGLE, enabled: false });
    const listed = await server.request('GET', `/api/jobs/${TOGGLE}`, {
      token: TEST_TOKENS.viewer,
    });
    expect(listed.body.job.enabled).toBe(false);

    const refused = await create(TOGGLE, {});
    expect(refused.status).toBe(409);
    expectErrorBody(refused.body, 'JOB_DISABLED');
    // Also for admins, and also for retries of that job's runs.
    expect((await create(TOGGLE, {}, TEST_TOKENS.admin)).status).toBe(409);
    const offFailing = await server.request('PATCH', `/api/jobs/${FAILING}`, {
      token: TEST_TOKENS.admin,
      body: { enabled: false },
    });
    expect(offFailing.status).toBe(200);
    const retried = await retry(failed.id);
    expect(retried.status).toBe(409);
    expectErrorBody(retried.body, 'JOB_DISABLED');

    for (const name of [TOGGLE, FAILING]) {
      const on = await server.request('PATCH', `/api/jobs/${name}`, {
        token: TEST_TOKENS.admin,
        body: { enabled: true },
      });
      expect(on.body.job.enabled).toBe(true);
    }
    const run = await createOk(TOGGLE);
    await waitForStatus(server, run.id, 'completed');
  });

  it('ALREADY_RUNNING while a run of an allowConcurrent:false job is active', async () => {
    const key = gates.key();
    const first = await createOk(EXCLUSIVE, { input: { key } });
    await gates.get(key).entered.promise;
    const second = await create(EXCLUSIVE, { input: { key: gates.key() } }, TEST_TOKENS.bob);
    expect(second.status).toBe(409);
    expectErrorBody(second.body, 'ALREADY_RUNNING');

    gates.get(key).release.resolve();
    await waitForStatus(server, first.id, 'completed');
    // A run waiting for a later time does not block a run for now.
    const later = await createOk(EXCLUSIVE, { input: { key: gates.key() }, runAt: inAnHour() });
    expect(later.status).toBe('scheduled');
    const third = await createOk(EXCLUSIVE, { input: { key: gates.key(), steps: 1 } });
    gates.get(third.input.key).release.resolve();
    await waitForStatus(server, third.id, 'completed');
    const cancelled = await server.request('POST', `/api/runs/${later.id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'force' },
    });
    expect(cancelled.body.run.status).toBe('cancelled');
  });

  it('an idempotency key returns the first run (created: false)', async () => {
    const body = { input: { n: 1 }, idempotencyKey: 'order-42' };
    const first = await create(QUICK, body);
    expect(first.status).toBe(202);
    expect(first.body.created).toBe(true);
    expect(first.body.run.idempotencyKey).toBe('order-42');
    const again = await create(QUICK, { ...body, input: { n: 2 } });
    expect(again.status).toBe(202);
    expect(again.body.created).toBe(false);
    expect(again.body.run.id).toBe(first.body.run.id);
    expect(again.body.run.input).toEqual({ n: 1 });
    // The key is alice's: bob's create with it is a run of bob's own, which bob may cancel.
    const bobs = await create(QUICK, { ...body, input: { n: 3 } }, TEST_TOKENS.bob);
    expect(bobs.body).toMatchObject({ created: true, run: { createdBy: 'bob', input: { n: 3 } } });
    await waitForStatus(server, bobs.body.run.id, 'completed');
    // Once finished, the key still names the same run.
    await waitForStatus(server, first.body.run.id, 'completed');
    const later = await create(QUICK, body);
    expect(later.body).toMatchObject({ created: false, run: { id: first.body.run.id } });
    // Another key, or the same key for another job, is a new run.
    const other = await create(QUICK, { ...body, idempotencyKey: 'order-43' });
    expect(other.body.created).toBe(true);
    expect(other.body.run.id).not.toBe(first.body.run.id);
    const otherJob = await create(TOGGLE, { idempotencyKey: 'order-42' });
    expect(otherJob.body.created).toBe(true);
    const runs = await server.request('GET', `/api/runs?job=${QUICK}`, {
      token: TEST_TOKENS.viewer,
    });
    expect(
      runs.body.runs.filter(
        (r: { idempotencyKey: string; createdBy: string }) =>
          r.idempotencyKey === 'order-42' && r.createdBy === 'alice',
      ),
    ).toHaveLength(1);
    await waitForStatus(server, other.body.run.id, 'completed');
    await waitForStatus(server, otherJob.body.run.id, 'completed');
  });
});

describe('fan-out and retries', () => {
  it('demo.nodes with failNodes ends partial with the right item statuses; it is not retryable', async () => {
    const run = await createOk('demo.nodes', {
      input: { nodes: ['n1', 'n2', 'n3', 'n4'], durationMs: 0, failNodes: ['n2', 'n4'] },
    });
    const ended = await waitForStatus(server, run.id, 'partial', 'completed', 'failed');
    expect(ended.status).toBe('partial');
    expect(ended.items).toEqual([
      { key: 'n1', status: 'succeeded' },
      {
        key: 'n2',
        status: 'failed',
        error: { code: 'HANDLER_ERROR', message: 'collection failed on n2' },
      },
      { key: 'n3', status: 'succeeded' },
      {
        key: 'n4',
        status: 'failed',
        error: { code: 'HANDLER_ERROR', message: 'collection failed on n4' },
      },
    ]);
    expect(ended.result).toEqual({ succeeded: 2, failed: 2 });
    expect(ended.error).toBeNull();
    expect(ended.cancel).toBeNull();
    const messages = (await getLogs(server, run.id)).map((l) => l.message);
    for (const node of ['n1', 'n2', 'n3', 'n4']) {
      expect(messages).toContain(`session opened on ${node}`);
      expect(messages).toContain(`session closed on ${node}`);
    }
    const res = await retry(run.id);
    expect(res.status).toBe(409);
    expectErrorBody(res.body);
    expect(res.body.run).toMatchObject({ id: run.id, status: 'partial' });
  });

  it('every node failing: the run fails with ITEMS_FAILED', async () => {
    const run = await createOk('demo.nodes', {
      input: { nodes: ['x', 'y'], durationMs: 0, failNodes: ['x', 'y'] },
    });
    const ended = await waitForStatus(server, run.id, 'failed', 'partial', 'completed');
    expect(ended.status).toBe('failed');
    expect(ended.error).toMatchObject({ code: 'ITEMS_FAILED' });
  });

  it('retry of a failed run: 202, a new run whose retryOf is the old id', async () => {
    const failed = await createOk(FAILING, { input: { n: 7 } });
    const old = await waitForStatus(server, failed.id, 'failed');
    expect(old.error).toMatchObject({ code: 'HANDLER_ERROR', message: 'this job always fails' });
    const res = await retry(failed.id);
    expect(res.status).toBe(202);
    expect(res.body.run).toMatchObject({
      job: FAILING,
      retryOf: failed.id,
      trigger: 'retry',
      createdBy: 'alice',
      input: { n: 7 },
      attempt: 0,
    });
    expect(res.body.run.id).not.toBe(failed.id);
    expect(res.body.run.id > failed.id).toBe(true);
    expect(['pending', 'running', 'failed']).toContain(res.body.run.status);
    await waitForStatus(server, res.body.run.id, 'failed');
    // The old run is left as it was.
    expect((await getRun(server, failed.id)).status).toBe('failed');
  });

  it('retry of a cancelled run: 202 with retryOf; retry of a completed run: 409', async () => {
    const key = gates.key();
    const run = await createOk(LATER, { input: { key }, runAt: inAnHour() });
    const cancelled = await server.request('POST', `/api/runs/${run.id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'graceful' },
    });
    expect(cancelled.body.run.status).toBe('cancelled');
    gates.get(key).release.resolve();
    const res = await retry(run.id);
    expect(res.status).toBe(202);
    expect(res.body.run).toMatchObject({
      retryOf: run.id,
      trigger: 'retry',
      input: { key, steps: 2 },
    });
    // The retry starts now, not at the old runAt.
    await waitForStatus(server, res.body.run.id, 'completed');

    const done = await createOk(QUICK);
    await waitForStatus(server, done.id, 'completed');
    const refused = await retry(done.id);
    expect(refused.status).toBe(409);
    expectErrorBody(refused.body);
    expect(refused.body.run).toMatchObject({ id: done.id, status: 'completed' });
    const bob = await retry(run.id, TEST_TOKENS.bob);
    expect(bob.status).toBe(403);
  });
});

describe('GET /api/runs', () => {
  type RunView = { id: string; job: string; status: string; createdBy: string; createdAt: string };
  let all: RunView[] = [];

  /** Every page of a listing, with `limit` per page; checks each page's shape on the way. */
  async function pages(query: string, limit: number): Promise<RunView[]> {
    const seen: RunView[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 1000; page++) {
      const qs = `${query ? `${query}&` : ''}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const res: { status: number; body: { runs: RunView[]; nextCursor: string | null } } =
        await server.request('GET', `/api/runs?${qs}`, { token: TEST_TOKENS.viewer });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.runs.length).toBeLessThanOrEqual(limit);
      seen.push(...res.body.runs);
      cursor = res.body.nextCursor;
      if (cursor === null) return seen;
      expect(res.body.runs.length).toBe(limit);
    }
    throw new Error('pagination does not end');
  }

  function expectNewestFirst(runs: RunView[]): void {
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i - 1]!.id > runs[i]!.id).toBe(true);
      expect(Date.parse(runs[i - 1]!.createdAt)).toBeGreaterThanOrEqual(
        Date.parse(runs[i]!.createdAt),
      );
    }
  }

  beforeAll(async () => {
    // Runs of several jobs, people and statuses.
    const later = async (token: string) =>
      createOk(LATER, { input: { key: gates.key() }, runAt: inAnHour() }, token);
    const alicesLater = [await later(TEST_TOKENS.alice), await later(TEST_TOKENS.alice)];
    await later(TEST_TOKENS.bob);
    await later(TEST_TOKENS.admin);
    await later(TEST_TOKENS.bob);
    await server.request('POST', `/api/runs/${alicesLater[0].id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'force' },
    });
    for (const token of [TEST_TOKENS.bob, TEST_TOKENS.alice, TEST_TOKENS.bob])
      await createOk(QUICK, { input: { n: 3 } }, token);
    await createOk(FAILING, {}, TEST_TOKENS.bob);
    // Every run of the file settles (finished, or waiting for its time) before listing.
    all = await pollUntil(
      async () => {
        const runs = await Promise.all([...created].map((id) => getRun(server, id)));
        return runs.every((r) => SETTLED_STATUSES.includes(r.status)) ? runs : undefined;
      },
      { what: 'every run to settle' },
    );
    all.sort((a, b) => (a.id < b.id ? 1 : -1));
  });

  it('pages of 3 cover every run exactly once, newest first', async () => {
    expect(all.length).toBeGreaterThan(10);
    const listed = await pages('', 3);
    expect(listed.map((r) => r.id)).toEqual(all.map((r) => r.id));
    expectNewestFirst(listed);
    // One big page agrees.
    expect((await pages('', 500)).map((r) => r.id)).toEqual(all.map((r) => r.id));
  });

  it.each([
    ['status=scheduled', (r: RunView) => r.status === 'scheduled'],
    ['status=completed,cancelled', (r: RunView) => ['completed', 'cancelled'].includes(r.status)],
    ['status=failed', (r: RunView) => r.status === 'failed'],
    [`job=${LATER}`, (r: RunView) => r.job === LATER],
    ['createdBy=bob', (r: RunView) => r.createdBy === 'bob'],
    ['createdBy=root', (r: RunView) => r.createdBy === 'root'],
    [
      `job=${QUICK}&createdBy=bob&status=completed`,
      (r: RunView) => r.job === QUICK && r.createdBy === 'bob' && r.status === 'completed',
    ],
    [`job=${QUICK}&status=scheduled`, () => false],
    ['job=no.such.job', () => false],
  ])('?%s: exactly the matching runs, paged by 2, newest first', async (query, matches) => {
    const expected = all.filter(matches).map((r) => r.id);
    const listed = await pages(query, 2);
    expect(listed.map((r) => r.id)).toEqual(expected);
    expectNewestFirst(listed);
  });

  it('the filters in the test above are not vacuous', () => {
    expect(all.filter((r) => r.status === 'scheduled').length).toBeGreaterThan(1);
    expect(all.filter((r) => r.createdBy === 'bob').length).toBeGreaterThan(2);
    expect(
      all.filter((r) => r.job === QUICK && r.createdBy === 'bob' && r.status === 'completed')
        .length,
    ).toBeGreaterThanOrEqual(2);
  });
});

describe('GET /api/runs/:id/logs', () => {
  it('?after=seq gives the entries after it, in order; limit bounds a page', async () => {
    const run = await createOk(CHATTY, { input: { lines: 12 } });
    await waitForStatus(server, run.id, 'completed');
    const logs = await getLogs(server, run.id);
    expect(logs.map((l) => l.message)).toEqual(
      Array.from({ length: 12 }, (_, i) => `line ${i + 1}`),
    );
    expect(logs.map((l) => l.data)).toEqual(Array.from({ length: 12 }, (_, i) => ({ n: i + 1 })));
    const seqs = logs.map((l) => l.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);

    const after = await getLogs(server, run.id, `?after=${seqs[4]}`);
    expect(after.map((l) => l.seq)).toEqual(seqs.slice(5));
    const page = await getLogs(server, run.id, `?after=${seqs[4]}&limit=3`);
    expect(page.map((l) => l.message)).toEqual(['line 6', 'line 7', 'line 8']);
    const next = await getLogs(server, run.id, `?after=${page.at(-1)!.seq}&limit=3`);
    expect(next.map((l) => l.message)).toEqual(['line 9', 'line 10', 'line 11']);
    expect(await getLogs(server, run.id, `?after=${seqs.at(-1)}`)).toEqual([]);
    expect(await getLogs(server, run.id, '?after=0')).toEqual(logs);
  });
});
