import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoJobs } from '../src/demo/jobs.js';
import { TEST_TOKENS, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(demoJobs);
});
afterAll(async () => server.close());

describe('api smoke', () => {
  it('serves health, jobs, a run and OpenAPI', async () => {
    expect((await server.request('GET', '/healthz')).body).toEqual({
      status: 'ok',
      store: 'ok',
      notifications: 'none',
    });
    const jobs = await server.request('GET', '/api/jobs', { token: TEST_TOKENS.viewer });
    expect(jobs.status).toBe(200);
    expect(jobs.body.jobs.map((j: { name: string }) => j.name)).toContain('demo.steps');
    const created = await server.request('POST', '/api/jobs/demo.steps/runs', {
      token: TEST_TOKENS.alice,
      body: { input: { steps: 1, stepMs: 1 } },
    });
    expect(created.status).toBe(202);
    const openapi = await server.request('GET', '/openapi.json');
    expect(openapi.body.paths['/api/runs/{id}/cancel'].post['x-jobdeck-role']).toBe('operator');
  });
});

describe('health while the store is down', () => {
  let down: TestServer;
  beforeAll(async () => {
    down = await startTestServer([], { deck: { worker: false } });
  });
  afterAll(async () => down.close());

  it("answers 503 without the store's error text; the text goes to the server's log", async () => {
    await down.deck.store.close();
    const health = await down.request('GET', '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toEqual({
      status: 'unavailable',
      store: 'unreachable',
      notifications: 'none',
    });
    expect(down.output()).toContain('database connection is not open');
  });
});
