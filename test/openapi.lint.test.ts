/**
 * GET /openapi.json, fetched from a real server, passes Redocly's recommended rules (redocly.yaml)
 * with no error and no warning, so code generators and API tools take it as it is.
 */
import {
  loadConfig,
  lintConfig,
  lintFromString,
  type NormalizedProblem,
} from '@redocly/openapi-core';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoJobs } from '../src/demo/jobs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const root = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** One line per problem: severity, rule, where and what. */
const lines = (problems: NormalizedProblem[]) =>
  problems
    .filter((problem) => !problem.ignored)
    .map(
      (problem) =>
        `${problem.severity} ${problem.ruleId} at ${problem.location[0]?.pointer ?? '?'}: ${problem.message}`,
    );

const OPERATION_IDS = [
  'get /healthz getHealth',
  'get /api/jobs listJobs',
  'get /api/jobs/{name} getJob',
  'patch /api/jobs/{name} updateJob',
  'post /api/jobs/{name}/runs createRun',
  'get /api/runs listRuns',
  'get /api/runs/{id} getRun',
  'get /api/runs/{id}/logs listRunLogs',
  'post /api/runs/{id}/cancel cancelRun',
  'post /api/runs/batch createManyRuns',
  'post /api/runs/cancel cancelManyRuns',
  'post /api/runs/{id}/pause pauseRun',
  'post /api/runs/{id}/resume resumeRun',
  'post /api/runs/{id}/retry retryRun',
  'get /api/workers listWorkers',
  'get /api/stats getStats',
  'get /api/events streamEvents',
  'get /api/alerts listAlerts',
  'post /api/alerts/test testAlert',
  'post /api/chatops runChatCommand',
  'post /api/chatops/telegram receiveTelegramUpdate',
  'post /api/chatops/slack receiveSlackCommand',
  'get /metrics getMetrics',
  'post /api/session signIn',
  'get /api/session getSession',
  'delete /api/session signOut',
  'get /dashboard getDashboard',
];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(demoJobs, { deck: { worker: false } });
});
afterAll(async () => server.close());

describe('the OpenAPI document passes the linter', () => {
  it('redocly.yaml is a valid Redocly config', async () => {
    const config = await loadConfig({ configPath: root('redocly.yaml') });
    expect(lines(await lintConfig({ config }))).toEqual([]);
  });

  it("has no error and no warning of Redocly's recommended rules", async () => {
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    const config = await loadConfig({ configPath: root('redocly.yaml') });
    const problems = await lintFromString({
      source: await response.text(),
      // The name .redocly.lint-ignore.yaml lists its exceptions under; no such file is read.
      absoluteRef: root('openapi.json'),
      config,
    });
    expect(lines(problems)).toEqual([]);
  });

  it('names every operation with a stable camelCase operationId', async () => {
    const doc = (await server.request('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const ids = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => `${method} ${path} ${op.operationId}`),
    );
    // Generated clients name their methods after these: renaming one breaks their callers.
    expect(ids.sort()).toEqual(OPERATION_IDS.sort());
  });
});
