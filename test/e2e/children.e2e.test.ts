/**
 * Child runs as users see them, over real HTTP on a real server and SQLite file, and from the
 * built command line: a child's parentId and trigger, a parent's children in GET /api/runs/:id
 * (bounded, earlierChildrenOmitted), GET /api/runs?parentId=, 400s for bad filters, a parent
 * waiting for its children (held by the test as its worker: this server runs none, so every
 * status is the test's doing), and `jobdeck run <id>` / `jobdeck runs --parent <id>`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../src/core/run.js';
import { RUN_CHILDREN_SHOWN } from '../../src/api/schemas.js';
import { Children, cleanEnv, requireBuild } from '../helpers/cli-process.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  UNKNOWN_RUN_ID,
  closeAndCheckNoTokenLogged,
  expectErrorBody,
  quickJob,
} from './support.js';

const PARENT = 'e2e.parent';
const CHILD = 'e2e.child';
const inAnHour = () => new Date(Date.now() + 3600_000);

let server: TestServer;
const cli = new Children();
beforeAll(async () => {
  server = await startTestServer([quickJob(PARENT), quickJob(CHILD)], {
    deck: { worker: false },
  });
});
afterEach(() => cli.killAll());
afterAll(async () => {
  await closeAndCheckNoTokenLogged(server);
});

const get = (path: string, token: string = TEST_TOKENS.viewer) =>
  server.request('GET', path, { token });

/**
 * A parent run (alice's, pending) and `count` children of it, due in an hour, made as its
 * handler's ctx.spawn would. `priority` puts the parent first in the test worker's claim.
 */
async function family(count: number, priority = 0): Promise<{ parent: Run; children: Run[] }> {
  const { run: parent } = await server.deck.runs.create({
    job: PARENT,
    input: {},
    priority,
    principal: { name: 'alice', role: 'operator' },
  });
  const children: Run[] = [];
  for (let n = 1; n <= count; n++)
    children.push(
      await server.deck.runs.createChild(parent, {
        job: CHILD,
        input: { n },
        key: `${CHILD}#${n}`,
        runAt: inAnHour(),
      }),
    );
  return { parent, children };
}

/** The run as the test's own worker: claimed, then suspended until `children` end. */
async function waitFor(parent: Run, children: Run[]): Promise<Run> {
  const store = server.deck.store;
  const [held] = await store.runClaim({
    workerId: 'e2e-worker',
    now: new Date(),
    leaseMs: 60_000,
    limit: 1,
    jobs: [{ name: PARENT, concurrency: null }],
  });
  expect(held?.id).toBe(parent.id);
  return store.runFinishIfAttempt({
    ref: { id: held!.id, attempt: held!.attempt, workerId: 'e2e-worker' },
    now: new Date(),
    outcome: { status: 'waiting', children: children.map((child) => child.id) },
  });
}

describe('child runs over HTTP', () => {
  it('a child names its parent; the parent lists its children, oldest first, with how they ended', async () => {
    const { parent, children } = await family(3);
    const child = await get(`/api/runs/${children[0]!.id}`);
    expect(child.status).toBe(200);
    expect(child.body.run).toMatchObject({
      parentId: parent.id,
      trigger: 'parent',
      createdBy: 'alice',
      children: [],
      earlierChildrenOmitted: false,
    });

    await server.deck.cancels.cancel(children[1]!.id, { mode: 'graceful', reason: null });
    const shown = await get(`/api/runs/${parent.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.run.parentId).toBeNull();
    expect(shown.body.run.earlierChildrenOmitted).toBe(false);
    expect(shown.body.run.children).toEqual(
      children.map((c, i) => ({
        id: c.id,
        job: CHILD,
        status: i === 1 ? 'cancelled' : 'scheduled',
        createdAt: c.createdAt.toISOString(),
        finishedAt: i === 1 ? expect.any(String) : null,
      })),
    );
    // Lists carry parentId too.
    const listed = await get(`/api/runs?job=${CHILD}&limit=500`);
    expect(listed.body.runs.find((r: { id: string }) => r.id === children[2]!.id)).toMatchObject({
      parentId: parent.id,
    });
  });

  it('GET /api/runs?parentId= lists only that run’s children, newest first, and pages', async () => {
    const { parent, children } = await family(3);
    const other = await family(1);
    const page = await get(`/api/runs?parentId=${parent.id}&total=true`);
    expect(page.status).toBe(200);
    expect(page.body.runs.map((r: { id: string }) => r.id)).toEqual(
      children.map((c) => c.id).reverse(),
    );
    expect(page.body.total).toBe(3);
    const first = await get(`/api/runs?parentId=${parent.id}&limit=2`);
    expect(first.body.runs).toHaveLength(2);
    const rest = await get(
      `/api/runs?parentId=${parent.id}&limit=2&cursor=${first.body.nextCursor}`,
    );
    expect(rest.body.runs.map((r: { id: string }) => r.id)).toEqual([children[0]!.id]);
    expect(rest.body.nextCursor).toBeNull();
    // With other filters; a run without children (or no run at all) has none.
    const cancelled = await get(`/api/runs?parentId=${parent.id}&status=cancelled`);
    expect(cancelled.body.runs).toEqual([]);
    expect((await get(`/api/runs?parentId=${other.children[0]!.id}`)).body.runs).toEqual([]);
    expect((await get(`/api/runs?parentId=${UNKNOWN_RUN_ID}`)).body).toMatchObject({
      runs: [],
      nextCursor: null,
    });
  });

  it('refuses a parentId that is not a run id, and an unknown status, with 400 and the field', async () => {
    for (const bad of ['not-a-run', '', '01890a5d-ac96-774b-bcce', `${UNKNOWN_RUN_ID}x`]) {
      const answer = await get(`/api/runs?parentId=${encodeURIComponent(bad)}`);
      expect(answer.status, bad).toBe(400);
      expectErrorBody(answer.body, 'INVALID_INPUT');
      expect(answer.body.details[0].path).toEqual(['parentId']);
    }
    const status = await get('/api/runs?status=waiting,sleeping');
    expect(status.status).toBe(400);
    expect(status.body.details[0]).toMatchObject({ path: ['status'] });
    expect(status.body.details[0].message).toMatch(/sleeping/);
    expect((await get('/api/runs?status=waiting,paused')).status).toBe(200);
  });

  it('shows the newest children of a parent with very many, and says older ones are left out', async () => {
    const { parent, children } = await family(RUN_CHILDREN_SHOWN + 2);
    const shown = (await get(`/api/runs/${parent.id}`)).body.run;
    expect(shown.earlierChildrenOmitted).toBe(true);
    expect(shown.children).toHaveLength(RUN_CHILDREN_SHOWN);
    expect(shown.children[0].id).toBe(children[2]!.id);
    expect(shown.children.at(-1).id).toBe(children.at(-1)!.id);
    const total = await get(`/api/runs?parentId=${parent.id}&total=true&limit=1`);
    expect(total.body.total).toBe(RUN_CHILDREN_SHOWN + 2);
  }, 30_000);

  it('a parent waiting for its children is waiting, filtered by status, paused at once and cancelled at once', async () => {
    const { parent, children } = await family(2, 1000);
    const waiting = await waitFor(parent, children);
    expect(waiting).toMatchObject({ status: 'waiting', workerId: null });
    const shown = (await get(`/api/runs/${parent.id}`)).body.run;
    expect(shown).toMatchObject({ status: 'waiting', workerId: null });
    expect(shown.attempts.at(-1)).toMatchObject({ attempt: 1, outcome: 'waiting' });
    const listed = await get(`/api/runs?status=waiting&job=${PARENT}`);
    expect(listed.body.runs.map((r: { id: string }) => r.id)).toContain(parent.id);
    const stats = await get('/api/stats');
    expect(stats.body.now.unfinished.waiting).toBeGreaterThanOrEqual(1);

    const paused = await server.request('POST', `/api/runs/${parent.id}/pause`, {
      token: TEST_TOKENS.alice,
    });
    expect(paused.body).toMatchObject({ action: 'hold-now', run: { status: 'paused' } });
    // Resumed, it is due: its next attempt runs the handler again, which waits again.
    const resumed = await server.request('POST', `/api/runs/${parent.id}/resume`, {
      token: TEST_TOKENS.alice,
    });
    expect(resumed.body.run).toMatchObject({ status: 'pending', pause: null });
    expect((await waitFor(parent, children)).status).toBe('waiting');

    const cancelled = await server.request('POST', `/api/runs/${parent.id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'graceful', reason: 'not needed' },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ action: 'cancel-now', run: { status: 'cancelled' } });
    // Its children are cancelled with it, in the same mode.
    const after = (await get(`/api/runs/${parent.id}`)).body.run;
    expect(after.children.map((c: { status: string }) => c.status)).toEqual([
      'cancelled',
      'cancelled',
    ]);
    expect((await get(`/api/runs/${children[0]!.id}`)).body.run.cancel).toMatchObject({
      mode: 'graceful',
      requestedBy: 'alice',
      reason: `parent run ${parent.id} was cancelled`,
    });
  });
});

describe('child runs from the command line', () => {
  beforeAll(() => requireBuild());

  const jobdeck = (args: string[]) =>
    cli.run(args, {
      env: cleanEnv({ JOBDECK_URL: server.url, JOBDECK_TOKEN: TEST_TOKENS.viewer }),
    });

  it('jobdeck run <id> shows a child’s parent and a parent’s children', async () => {
    const { parent, children } = await family(2);
    await server.deck.cancels.cancel(children[0]!.id, { mode: 'force', reason: null });
    const ended = (await server.deck.runs.get(children[0]!.id)).finishedAt!.toISOString();

    const shown = await jobdeck(['run', parent.id]);
    expect(shown.exit, shown.stderr).toEqual({ code: 0, signal: null });
    expect(shown.stdout).toBe(
      `${parent.id} ${PARENT} pending attempt 0/1\n` +
        'children:\n' +
        `  ${children[0]!.id} ${CHILD}: cancelled (ended ${ended})\n` +
        `  ${children[1]!.id} ${CHILD}: scheduled\n`,
    );
    const child = await jobdeck(['run', children[1]!.id]);
    expect(child.stdout).toBe(
      `${children[1]!.id} ${CHILD} scheduled attempt 0/1\nparent: ${parent.id}\n`,
    );
  });

  it('jobdeck pause and cancel of a waiting run say they acted at once', async () => {
    const { parent, children } = await family(1, 1000);
    await waitFor(parent, children);
    const as = (args: string[]) =>
      cli.run(args, {
        env: cleanEnv({ JOBDECK_URL: server.url, JOBDECK_TOKEN: TEST_TOKENS.alice }),
      });
    const paused = await as(['pause', parent.id]);
    expect(paused.exit, paused.stderr).toEqual({ code: 0, signal: null });
    expect(paused.stdout).toBe(
      `Paused ${parent.id} ${PARENT} at once: no handler was running (it was waiting for its child runs, or between tries); \`jobdeck resume ${parent.id}\` lets it go on.\n`,
    );
    await as(['resume', parent.id]);
    await waitFor(parent, children);
    const cancelled = await as(['cancel', parent.id, '--reason', 'done here']);
    expect(cancelled.exit, cancelled.stderr).toEqual({ code: 0, signal: null });
    expect(cancelled.stdout).toBe(
      `Cancelled ${parent.id} ${PARENT} at once: no handler was running (it was paused, waiting for its child runs, or between tries). Asked by alice: done here.\n`,
    );
    expect((await server.deck.runs.get(children[0]!.id)).status).toBe('cancelled');
  });

  it('jobdeck runs --parent <id> lists only its children', async () => {
    const { parent, children } = await family(2);
    const listed = await jobdeck(['runs', '--parent', parent.id, '--json']);
    expect(listed.exit, listed.stderr).toEqual({ code: 0, signal: null });
    expect(JSON.parse(listed.stdout).runs.map((r: { id: string }) => r.id)).toEqual([
      children[1]!.id,
      children[0]!.id,
    ]);
    const table = await jobdeck(['runs', '--parent', parent.id]);
    expect(table.stdout.split('\n').filter(Boolean)).toHaveLength(3);
    expect(table.stdout).toContain(children[0]!.id);
    const bad = await jobdeck(['runs', '--parent', 'nope']);
    expect(bad.exit.code).toBe(4);
    expect(bad.stderr).toMatch(/INVALID_INPUT \(400\)/);
    expect(bad.stderr).toMatch(/parentId: /);
  });
});
