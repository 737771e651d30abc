/**
 * 401/403 per role for every route, with the matrix generated from GET /openapi.json: each
 * operation says its role in `x-jobdeck-role`; the tests probe it with no token, an unknown token,
 * each role below it and each role at or above it. The document must also hold every route of
 * SPEC.md's HTTP API table, with the role the table gives.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { demoJobs } from '../../src/demo/jobs.js';
import { TEST_TOKENS, startTestServer } from '../helpers/server.js';
import {
  UNKNOWN_RUN_ID,
  closeAndCheckNoTokenLogged,
  expectErrorBody,
  rawRequest,
} from './support.js';

type Role = 'none' | 'viewer' | 'operator' | 'admin';
const ROLE_ORDER: Role[] = ['none', 'viewer', 'operator', 'admin'];
const TOKEN_OF: Record<Exclude<Role, 'none'>, string> = {
  viewer: TEST_TOKENS.viewer,
  operator: TEST_TOKENS.alice,
  admin: TEST_TOKENS.admin,
};
const UNKNOWN_TOKEN = 'not-a-configured-token-42';

/** SPEC.md "HTTP API": every route and its role (`/metrics` is configurable; viewer by default). */
const SPEC_ROUTES: [method: string, path: string, role: Role][] = [
  ['get', '/healthz', 'none'],
  ['get', '/api/jobs', 'viewer'],
  ['get', '/api/jobs/{name}', 'viewer'],
  ['patch', '/api/jobs/{name}', 'admin'],
  ['post', '/api/jobs/{name}/runs', 'operator'],
  ['get', '/api/runs', 'viewer'],
  ['get', '/api/runs/{id}', 'viewer'],
  ['get', '/api/runs/{id}/logs', 'viewer'],
  ['post', '/api/runs/{id}/cancel', 'operator'],
  ['post', '/api/runs/cancel', 'operator'],
  ['post', '/api/runs/{id}/retry', 'operator'],
  ['get', '/api/stats', 'viewer'],
  ['get', '/api/alerts', 'viewer'],
  ['post', '/api/alerts/test', 'admin'],
  ['get', '/api/events', 'viewer'],
  ['get', '/metrics', 'viewer'],
  ['get', '/dashboard', 'viewer'],
];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const server = await startTestServer(demoJobs);
afterAll(async () => {
  await closeAndCheckNoTokenLogged(server);
  expect(server.output()).not.toContain(UNKNOWN_TOKEN);
});

const doc = (await server.request('GET', '/openapi.json')).body as {
  paths: Record<string, Record<string, Record<string, unknown>>>;
};
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => HTTP_METHODS.includes(method))
    .map(([method, operation]) => ({
      method,
      path,
      role: operation['x-jobdeck-role'] as Role | undefined,
      security: operation.security,
    })),
);

/** The concrete URL of an operation: path parameters filled so that routing and validation pass. */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'id') return UNKNOWN_RUN_ID;
    if (name === 'name') return 'demo.steps';
    throw new Error(`no value for path parameter ${name} of ${path}: add one to the test`);
  });
}

/** One request without a body, on a socket of its own; an event stream is closed at once. */
function probe(method: string, path: string, token: string | null) {
  return rawRequest(
    server,
    method.toUpperCase(),
    concrete(path),
    token ? { authorization: `Bearer ${token}` } : {},
  );
}

describe('the OpenAPI document', () => {
  it('lists operations, each with x-jobdeck-role and a matching security requirement', () => {
    expect(operations.length).toBeGreaterThanOrEqual(SPEC_ROUTES.length);
    const missing = operations.filter((op) => op.role === undefined);
    expect(missing.map((op) => `${op.method} ${op.path}`)).toEqual([]);
    for (const op of operations) {
      expect(ROLE_ORDER, `${op.method} ${op.path}`).toContain(op.role);
      expect(op.security, `${op.method} ${op.path}`).toEqual(
        op.role === 'none' ? [] : [{ bearer: [] }],
      );
    }
  });

  it.each(SPEC_ROUTES)("holds SPEC.md's %s %s with role %s", (method, path, role) => {
    const op = operations.find((o) => o.method === method && o.path === path);
    expect(op, `${method} ${path} is not in /openapi.json`).toBeDefined();
    expect(op!.role).toBe(role);
  });
});

for (const { method, path, role } of operations)
  describe(`${method.toUpperCase()} ${path}`, () => {
    it('declares its role', () => {
      expect(role, `${method} ${path} has no x-jobdeck-role`).toBeDefined();
    });

    if (role === undefined) return;
    const required = ROLE_ORDER.indexOf(role);

    if (role === 'none') {
      it('answers without a token', async () => {
        const res = await probe(method, path, null);
        expect([401, 403]).not.toContain(res.status);
        expect(res.status).toBeLessThan(500);
      });
      return;
    }

    it('no token: 401', async () => {
      const res = await probe(method, path, null);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      if (method === 'get' && path === '/dashboard') {
        // A browser gets the sign-in page instead of JSON.
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(String(res.body)).toMatch(/<html/i);
      } else {
        expectErrorBody(res.body, 'UNAUTHENTICATED');
      }
    });

    it('an unknown token: 401 with WWW-Authenticate: Bearer', async () => {
      const res = await probe(method, path, UNKNOWN_TOKEN);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      if (method === 'get' && path === '/dashboard') {
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      } else {
        expectErrorBody(res.body, 'UNAUTHENTICATED');
      }
    });

    for (const lower of ROLE_ORDER.slice(1, required)) {
      it(`${lower}: 403 FORBIDDEN`, async () => {
        const res = await probe(method, path, TOKEN_OF[lower as Exclude<Role, 'none'>]);
        expect(res.status).toBe(403);
        expectErrorBody(res.body, 'FORBIDDEN');
      });
    }

    for (const enough of ROLE_ORDER.slice(required)) {
      it(`${enough}: neither 401 nor 403, never 5xx`, async () => {
        const res = await probe(method, path, TOKEN_OF[enough as Exclude<Role, 'none'>]);
        expect([401, 403], JSON.stringify(res.body)).not.toContain(res.status);
        expect(res.status).toBeLessThan(500);
      });
    }
  });

describe('authentication details', () => {
  it('accepts the scheme in any case and refuses other schemes', async () => {
    const lower = await server.request('GET', '/api/jobs', {
      headers: { authorization: `bearer ${TEST_TOKENS.viewer}` },
    });
    expect(lower.status).toBe(200);
    const basic = await server.request('GET', '/api/jobs', {
      headers: {
        authorization: `Basic ${Buffer.from(`x:${TEST_TOKENS.admin}`).toString('base64')}`,
      },
    });
    expect(basic.status).toBe(401);
    expectErrorBody(basic.body, 'UNAUTHENTICATED');
  });

  it('a token that is a prefix or extension of a real one is unknown', async () => {
    for (const token of [TEST_TOKENS.admin.slice(0, -1), `${TEST_TOKENS.admin}x`]) {
      const res = await server.request('GET', '/api/jobs', { token });
      expect(res.status).toBe(401);
    }
  });

  it('the SSE stream refuses a missing token before streaming', async () => {
    const res = await server.request('GET', '/api/events');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expectErrorBody(res.body, 'UNAUTHENTICATED');
  });
});

describe('request rate per token', () => {
  const LIMITED = 'limited-ci-token-0001';

  it('a token limited to 5 requests a minute gets 429 RATE_LIMITED with Retry-After on the 6th; other tokens go on', async () => {
    const limited = await startTestServer(demoJobs, {
      extraTokens: [`ci:operator:${LIMITED} rate=5/min`],
    });
    try {
      const answers = [];
      for (let i = 0; i < 6; i++)
        answers.push(await limited.request('GET', '/api/jobs', { token: LIMITED }));
      expect(answers.slice(0, 5).map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual([
        '4',
        '3',
        '2',
        '1',
        '0',
        '0',
      ]);
      const refused = answers[5]!;
      expect(refused.status).toBe(429);
      expectErrorBody(refused.body, 'RATE_LIMITED');
      expect((refused.body as { message: string }).message).toMatch(
        /^The token of ci may make 5 requests per 1m; try again in \d+ s\.$/,
      );
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // A write is refused too, and nothing is created by it.
      const create = await limited.request('POST', '/api/jobs/demo.steps/runs', {
        token: LIMITED,
        body: {},
      });
      expect(create.status).toBe(429);
      const other = await limited.request('GET', '/api/runs', { token: TEST_TOKENS.alice });
      expect(other.status).toBe(200);
      expect(other.headers.get('x-ratelimit-limit')).toBeNull();
      const byCi = (other.body as { runs: { createdBy: string }[] }).runs.filter(
        (run) => run.createdBy === 'ci',
      );
      expect(byCi).toEqual([]);
    } finally {
      await limited.close();
    }
  });
});
