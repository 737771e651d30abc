/**
 * GET /api/workers over real HTTP: the serving instance with the runs it executes, a second
 * instance on the same SQLite file (registered at start, gone after a clean stop), and one whose
 * store connection is lost: shown `lost` after 3 of its heartbeats, then left out.
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerInfo } from '../../src/client/client.js';
import { Jobdeck, type JobdeckOptions } from '../../src/jobdeck.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { EVENT_DEADLINE_MS, pollUntil } from '../helpers/poll.js';
import { cleanupAfterEach } from '../helpers/cleanups.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  closeAndCheckNoTokenLogged,
  createRun,
  expectErrorBody,
  gateJob,
  waitForStatus,
} from './support.js';

const gates = new Gates();
const HELD = 'e2e.held';
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

let server: TestServer;
const defer = cleanupAfterEach();

beforeAll(async () => {
  server = await startTestServer([gateJob(gates, { name: HELD })]);
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
});

async function listWorkers(token: string = TEST_TOKENS.viewer): Promise<WorkerInfo[]> {
  const res = await server.request('GET', '/api/workers', { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.workers;
}

/** A second instance on the server's SQLite file, stopped after the test. */
async function secondInstance(
  options: Omit<JobdeckOptions, 'store'>,
  store = new SqliteStore({ path: server.dbPath }),
): Promise<Jobdeck> {
  const deck = new Jobdeck({ scheduler: false, maintenance: false, ...options, store });
  defer(() => deck.close({ graceMs: 1000 }));
  return deck.start();
}

describe('GET /api/workers', () => {
  it('lists the serving instance with its details and the runs it executes', async () => {
    const key = gates.key();
    const created = await createRun(server, HELD, { input: { key } });
    await gates.get(key).entered.promise;
    const running = await waitForStatus(server, created.id, 'running');

    const [self, ...others] = await listWorkers();
    expect(others).toEqual([]);
    expect(self).toMatchObject({
      id: server.deck.instances.id,
      host: hostname(),
      pid: process.pid,
      version: VERSION,
      role: 'both',
      concurrency: server.deck.worker!.concurrency,
      heartbeatMs: 5000,
      state: 'alive',
    });
    // Its runs are the runs whose workerId is its id.
    expect(running.workerId).toBe(self!.id);
    expect(self!.runs).toEqual([
      { id: created.id, job: HELD, attempt: 1, status: 'running', startedAt: running.startedAt },
    ]);
    expect(Date.parse(self!.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(self!.startedAt));

    gates.get(key).release.resolve();
    await waitForStatus(server, created.id, 'completed');
    expect((await listWorkers())[0]!.runs).toEqual([]);
  });

  it('a second instance shows with its role from its start, and not after a clean stop', async () => {
    const api = await secondInstance({ worker: false });
    const worker = await secondInstance({
      worker: { concurrency: 3 },
      instance: { role: 'worker' },
    });
    const listed = await listWorkers();
    expect(listed.map((w) => [w.id, w.role, w.concurrency])).toEqual([
      [server.deck.instances.id, 'both', server.deck.worker!.concurrency],
      [api.instances.id, 'api', null],
      [worker.instances.id, 'worker', 3],
    ]);
    await api.stop();
    await worker.stop();
    expect((await listWorkers()).map((w) => w.id)).toEqual([server.deck.instances.id]);
  });

  it('an instance that stops beating is lost after 3 of its heartbeats, then left out', async () => {
    const errors: string[] = [];
    const store = new SqliteStore({ path: server.dbPath });
    const gone = await secondInstance(
      {
        worker: false,
        instance: { heartbeatMs: 100 },
        onError: (_err, where) => errors.push(where),
      },
      store,
    );
    expect((await listWorkers()).find((w) => w.id === gone.instances.id)?.state).toBe('alive');

    // Its store connection is lost: every beat fails from now on, and no stop can remove it.
    await store.close();
    const cutAt = Date.now();
    const lost = await pollUntil(
      async () =>
        (await listWorkers()).find((w) => w.id === gone.instances.id && w.state === 'lost'),
      { timeoutMs: EVENT_DEADLINE_MS, what: 'the instance to be shown lost' },
    );
    const lostAfter = Date.now() - cutAt;
    await pollUntil(async () => !(await listWorkers()).some((w) => w.id === gone.instances.id), {
      timeoutMs: EVENT_DEADLINE_MS,
      what: 'the lost instance to be left out',
    });
    console.log(
      `instance beating every 100 ms: shown lost ${lostAfter} ms and left out ${Date.now() - cutAt} ms after its last chance to beat`,
    );
    expect(Date.parse(lost.lastSeenAt)).toBeLessThanOrEqual(cutAt);
    // The failed beats were reported, not thrown.
    await pollUntil(() => errors.includes('instance-heartbeat'), {
      what: 'a failed beat to be reported',
    });
    // The server's own instance is unaffected.
    expect((await listWorkers()).map((w) => [w.id, w.state])).toEqual([
      [server.deck.instances.id, 'alive'],
    ]);
  });

  it('needs a token (viewer or more) and is in the OpenAPI document', async () => {
    const anonymous = await server.request('GET', '/api/workers');
    expect(anonymous.status).toBe(401);
    expectErrorBody(anonymous.body, 'UNAUTHENTICATED');
    expect((await listWorkers(TEST_TOKENS.alice)).length).toBeGreaterThan(0);
    const doc = (await server.request('GET', '/openapi.json')).body;
    expect(doc.paths['/api/workers'].get['x-jobdeck-role']).toBe('viewer');
    expect(Object.keys(doc.components.schemas.Worker.properties).sort()).toEqual(
      [
        'concurrency',
        'heartbeatMs',
        'host',
        'id',
        'lastSeenAt',
        'pid',
        'role',
        'runs',
        'startedAt',
        'state',
        'version',
      ].sort(),
    );
  });
});
