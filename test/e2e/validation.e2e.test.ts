/**
 * Invalid inputs get a 4xx with the error body, never a 500: wrong types, missing and unknown
 * fields, oversized bodies and strings, prototype poisoning, malformed JSON, bad query values and
 * ids, unknown jobs, job inputs failing their schema; then a few hundred random bodies on the
 * routes that write. The store is intact afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RUN_STATUSES } from '../../src/core/status.js';
import { defineJob } from '../../src/jobs/define.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  UNKNOWN_RUN_ID,
  createRun,
  expectErrorBody,
  closeAndCheckNoTokenLogged,
  quickJob,
  waitForStatus,
} from './support.js';

const TYPED = 'e2e.typed';
const typedJob = defineJob({
  name: TYPED,
  maxAttempts: 1,
  input: z.object({
    count: z.number().int().min(1).max(10),
    label: z.string().max(50),
    tags: z.array(z.string()).optional(),
  }),
  run: (_ctx, input) => ({ count: input.count }),
});
const QUICK = 'e2e.quick';
/** The longest job name there can be. */
const LONG_NAME = `e2e.${'n'.repeat(124)}`;

let server: TestServer;
/** A finished run the cancel tests aim at. */
let finishedId: string;
beforeAll(async () => {
  server = await startTestServer([typedJob, quickJob(QUICK), quickJob(LONG_NAME)]);
  finishedId = (await createRun(server, QUICK, {})).id;
  await waitForStatus(server, finishedId, 'completed');
});
afterAll(async () => {
  await closeAndCheckNoTokenLogged(server);
});

const admin = TEST_TOKENS.admin;
const alice = TEST_TOKENS.alice;
const viewer = TEST_TOKENS.viewer;

/** A raw request: the body is sent exactly as given (string) with the content type given. */
async function raw(
  method: string,
  path: string,
  body: string | undefined,
  options: { token?: string; contentType?: string } = {},
) {
  return server.request(method, path, {
    token: options.token ?? alice,
    ...(body === undefined ? {} : { body }),
    headers:
      body === undefined ? {} : { 'content-type': options.contentType ?? 'application/json' },
  });
}

/** An INVALID_INPUT answer whose details include one at `path` (a prefix of the reported path). */
function expectInvalidAt(res: { status: number; body: unknown }, path: (string | number)[]) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expectErrorBody(res.body, 'INVALID_INPUT');
  const details = (res.body as { details: { path: (string | number)[] }[] }).details;
  expect(
    details.some((d) => path.every((p, i) => d.path[i] === p)),
    `no detail at ${JSON.stringify(path)}: ${JSON.stringify(details)}`,
  ).toBe(true);
}

const createPath = `/api/jobs/${TYPED}/runs`;
const validInput = { count: 2, label: 'ok' };

describe('POST /api/jobs/:name/runs', () => {
  it('accepts a valid body (control)', async () => {
    const res = await server.request('POST', createPath, {
      token: alice,
      body: { input: validInput },
    });
    expect(res.status).toBe(202);
    await waitForStatus(server, res.body.run.id, 'completed');
  });

  it.each([
    ['priority as a string', { input: validInput, priority: 'high' }, ['priority']],
    ['fractional priority', { input: validInput, priority: 1.5 }, ['priority']],
    ['priority out of range', { input: validInput, priority: 1e9 }, ['priority']],
    ['runAt not a time', { input: validInput, runAt: 'tomorrow' }, ['runAt']],
    ['runAt as a number', { input: validInput, runAt: 1700000000000 }, ['runAt']],
    ['idempotencyKey as a number', { input: validInput, idempotencyKey: 7 }, ['idempotencyKey']],
    ['empty idempotencyKey', { input: validInput, idempotencyKey: '' }, ['idempotencyKey']],
    [
      'oversized idempotencyKey',
      { input: validInput, idempotencyKey: 'k'.repeat(201) },
      ['idempotencyKey'],
    ],
  ])('%s: 400 at the field', async (_what, body, path) => {
    expectInvalidAt(await server.request('POST', createPath, { token: alice, body }), path);
  });

  it('an unknown field: 400', async () => {
    const res = await server.request('POST', createPath, {
      token: alice,
      body: { input: validInput, inptu: validInput },
    });
    expect(res.status).toBe(400);
    expectErrorBody(res.body, 'INVALID_INPUT');
    expect(JSON.stringify(res.body.details)).toContain('inptu');
  });

  it.each([
    ['an array', []],
    ['a string', 'just text'],
    ['a number', 42],
    ['null', null],
  ])('a body that is %s: 400', async (_what, body) => {
    const res = await raw('POST', createPath, JSON.stringify(body));
    expect(res.status).toBe(400);
    expectErrorBody(res.body, 'INVALID_INPUT');
  });

  it('the job input missing: 400 with details at input', async () => {
    expectInvalidAt(await server.request('POST', createPath, { token: alice, body: {} }), [
      'input',
    ]);
  });

  it('a job input failing its schema: 400 with details whose path starts with input', async () => {
    const res = await server.request('POST', createPath, {
      token: alice,
      body: { input: { count: 0, label: 42, tags: ['a', 3] } },
    });
    expect(res.status).toBe(400);
    expectErrorBody(res.body, 'INVALID_INPUT');
    const paths = res.body.details.map((d: { path: unknown[] }) => d.path);
    for (const path of paths) expect(path[0]).toBe('input');
    expect(paths).toEqual(
      expect.arrayContaining([
        ['input', 'count'],
        ['input', 'label'],
        ['input', 'tags', 1],
      ]),
    );
  });

  it('an unknown job: 404 JOB_NOT_FOUND', async () => {
    const res = await server.request('POST', '/api/jobs/no.such.job/runs', {
      token: alice,
      body: { input: {} },
    });
    expect(res.status).toBe(404);
    expectErrorBody(res.body, 'JOB_NOT_FOUND');
  });

  it('a job name of 128 characters routes; a longer one is 400 with the error body', async () => {
    const created = await server.request('POST', `/api/jobs/${LONG_NAME}/runs`, {
      token: alice,
      body: {},
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    await waitForStatus(server, created.body.run.id, 'completed');
    const job = await server.request('GET', `/api/jobs/${LONG_NAME}`, { token: viewer });
    expect(job.status).toBe(200);
    expectInvalidAt(
      await server.request('POST', `/api/jobs/${'j'.repeat(129)}/runs`, {
        token: alice,
        body: { input: {} },
      }),
      ['name'],
    );
    // Past what the router takes at all: still the API's error body, never the framework's.
    const huge = await server.request('POST', `/api/jobs/${'j'.repeat(5000)}/runs`, {
      token: alice,
      body: { input: {} },
    });
    expect(huge.status).toBe(400);
    expectErrorBody(huge.body, 'INVALID_INPUT');
  });

  it('a URL with broken percent-encoding: 400 with the error body', async () => {
    for (const path of ['/api/jobs/%E0%A4%A/runs', '/api/runs/%zz/cancel']) {
      const res = await server.request('POST', path, { token: alice, body: {} });
      expect(res.status, path).toBe(400);
      expectErrorBody(res.body, 'INVALID_INPUT');
    }
  });

  it('a 2 MB body: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await server.request('POST', createPath, {
      token: alice,
      body: { input: { ...validInput, label: 'x'.repeat(2 * 1024 * 1024) } },
    });
    expect(res.status).toBe(413);
    expectErrorBody(res.body, 'PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['__proto__ at the top', '{"input":{"count":1,"label":"a"},"__proto__":{"polluted":true}}'],
    ['__proto__ in the input', '{"input":{"count":1,"label":"a","__proto__":{"polluted":true}}}'],
    [
      'constructor.prototype in the input',
      '{"input":{"count":1,"label":"a","constructor":{"prototype":{"polluted":true}}}}',
    ],
  ])('%s: 400, and nothing is polluted', async (_what, text) => {
    const res = await raw('POST', createPath, text);
    expect(res.status).toBe(400);
    expectErrorBody(res.body, 'INVALID_INPUT');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it.each([
    ['truncated JSON', '{"input":'],
    ['single quotes', "{'input': {}}"],
    ['trailing comma', '{"input":{"count":1,"label":"a"},}'],
    ['NaN', '{"input":{"count":NaN,"label":"a"}}'],
  ])('malformed JSON (%s): 400', async (_what, text) => {
    const res = await raw('POST', createPath, text);
    expect(res.status).toBe(400);
    expectErrorBody(res.body, 'INVALID_INPUT');
  });

  it('an empty JSON body or a foreign content type: 4xx', async () => {
    const empty = await raw('POST', createPath, '');
    expect(empty.status).toBe(400);
    expectErrorBody(empty.body, 'INVALID_INPUT');
    const text = await raw('POST', createPath, 'input=1', { contentType: 'text/plain' });
    expect(text.status).toBeGreaterThanOrEqual(400);
    expect(text.status).toBeLessThan(500);
    expectErrorBody(text.body);
  });
});

describe('POST /api/runs/:id/cancel', () => {
  it('a run id that is not a UUID: 400 at the id', async () => {
    for (const id of ['not-a-uuid', '1', 'ZZZZZZZZ-ZZZZ-7ZZZ-8ZZZ-ZZZZZZZZZZZZ']) {
      const res = await server.request('POST', `/api/runs/${id}/cancel`, {
        token: alice,
        body: { mode: 'force' },
      });
      expectInvalidAt(res, ['id']);
    }
  });

  it('an unknown run: 404 RUN_NOT_FOUND', async () => {
    const res = await server.request('POST', `/api/runs/${UNKNOWN_RUN_ID}/cancel`, {
      token: alice,
      body: { mode: 'force' },
    });
    expect(res.status).toBe(404);
    expectErrorBody(res.body, 'RUN_NOT_FOUND');
  });

  it.each([
    ['an unknown mode', { mode: 'hard' }, ['mode']],
    ['mode as a boolean', { mode: true }, ['mode']],
    ['reason as a number', { reason: 42 }, ['reason']],
    ['a reason over 1000 characters', { reason: 'r'.repeat(1001) }, ['reason']],
    ['an unknown field', { mode: 'force', force: true }, []],
  ])('%s: 400', async (_what, body, path) => {
    const res = await server.request('POST', `/api/runs/${finishedId}/cancel`, {
      token: alice,
      body,
    });
    expectInvalidAt(res, path);
  });

  it('a 2 MB reason: 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await server.request('POST', `/api/runs/${finishedId}/cancel`, {
      token: alice,
      body: { mode: 'graceful', reason: 'r'.repeat(2 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expectErrorBody(res.body, 'PAYLOAD_TOO_LARGE');
  });

  it('prototype poisoning and malformed JSON: 400', async () => {
    for (const text of ['{"mode":"force","__proto__":{"x":1}}', '{"mode":', '[1,2']) {
      const res = await raw('POST', `/api/runs/${finishedId}/cancel`, text);
      expect(res.status).toBe(400);
      expectErrorBody(res.body, 'INVALID_INPUT');
    }
  });
});

describe('POST /api/runs/cancel (bulk)', () => {
  it.each([
    ['no filter', {}, []],
    ['ids that are not UUIDs', { ids: ['nope'] }, ['ids', 0]],
    ['an empty ids list', { ids: [] }, ['ids']],
    ['more than 1000 ids', { ids: Array.from({ length: 1001 }, () => UNKNOWN_RUN_ID) }, ['ids']],
    ['an unknown status', { status: ['nope'] }, ['status', 0]],
    ['status as a string', { status: 'running' }, ['status']],
    ['an empty job', { job: '' }, ['job']],
    ['an unknown field', { job: QUICK, everything: true }, []],
    ['an unknown mode', { job: QUICK, mode: 'nuke' }, ['mode']],
  ])('%s: 400', async (_what, body, path) => {
    const res = await server.request('POST', '/api/runs/cancel', { token: alice, body });
    expectInvalidAt(res, path);
  });
});

describe('GET /api/runs and friends', () => {
  it.each([
    ['?cursor=garbage', ['cursor']],
    ['?cursor=', ['cursor']],
    [`?cursor=${Buffer.from('not-an-id').toString('base64url')}`, ['cursor']],
    ['?status=nope', ['status']],
    ['?status=running,nope', ['status']],
    ['?status=', ['status']],
    ['?limit=0', ['limit']],
    ['?limit=-1', ['limit']],
    ['?limit=abc', ['limit']],
    ['?limit=1.5', ['limit']],
    ['?limit=501', ['limit']],
    ['?createdBy=', ['createdBy']],
    [`?job=${'j'.repeat(129)}`, ['job']],
  ])('GET /api/runs%s: 400 at the field', async (query, path) => {
    expectInvalidAt(await server.request('GET', `/api/runs${query}`, { token: viewer }), path);
  });

  it('the message names the field and its problem, never the whole URL', async () => {
    const search = await server.request('GET', '/api/runs?q=zzz%3Cb%3E', { token: viewer });
    expectInvalidAt(search, ['q']);
    expect(search.body.message).toBe(
      'Query string field q: a run id or the start of one: hex digits and dashes.',
    );
    const two = await server.request('GET', '/api/runs?q=x&limit=abc', { token: viewer });
    expect(two.body.message).toMatch(/^Query string field q: .+; query string field limit: .+\.$/);
    const id = await server.request('GET', '/api/runs/not-a-uuid', { token: viewer });
    expectInvalidAt(id, ['id']);
    expect(id.body.message).toBe(
      'Path parameter id: expected a UUID (32 hex digits and 4 dashes).',
    );
    const body = await server.request('POST', `/api/runs/${finishedId}/cancel`, {
      token: alice,
      body: { mode: 'hard' },
    });
    expect(body.body.message).toMatch(/^Body field mode: /);
    // Past the router's limit: said without echoing the 5,000 characters.
    const huge = await server.request('GET', `/api/runs/${'a'.repeat(5000)}`, { token: viewer });
    expect(huge.status).toBe(400);
    expectErrorBody(huge.body, 'INVALID_INPUT');
    expect(huge.body.message).toBe('A path parameter is longer than 256 characters.');
    expect(huge.body.details).toEqual([
      { path: [], message: 'longer than 256 characters', in: 'params' },
    ]);
    const broken = await server.request('GET', '/api/runs/%zz', { token: viewer });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toBe('The URL has a broken percent-encoding (%XX).');
  });

  it('GET /api/runs/:id with a non-UUID id: 400 at the id; an unknown one: 404', async () => {
    expectInvalidAt(await server.request('GET', '/api/runs/123', { token: viewer }), ['id']);
    const unknown = await server.request('GET', `/api/runs/${UNKNOWN_RUN_ID}`, { token: viewer });
    expect(unknown.status).toBe(404);
    expectErrorBody(unknown.body, 'RUN_NOT_FOUND');
  });

  it('GET /api/runs/:id/logs with bad after/limit: 400', async () => {
    for (const query of ['?after=-1', '?after=abc', '?limit=0', '?limit=5001']) {
      const res = await server.request('GET', `/api/runs/${finishedId}/logs${query}`, {
        token: viewer,
      });
      expect(res.status, query).toBe(400);
      expectErrorBody(res.body, 'INVALID_INPUT');
    }
    const unknown = await server.request('GET', `/api/runs/${UNKNOWN_RUN_ID}/logs`, {
      token: viewer,
    });
    expect(unknown.status).toBe(404);
    expectErrorBody(unknown.body, 'RUN_NOT_FOUND');
  });

  it('GET /api/events with a non-UUID run filter: 400 JSON, no stream', async () => {
    const res = await server.request('GET', '/api/events?run=nope', { token: viewer });
    expectInvalidAt(res, ['run']);
  });

  it('POST /api/runs/:id/retry with a non-UUID id: 400; an unknown run: 404', async () => {
    expectInvalidAt(await server.request('POST', '/api/runs/x/retry', { token: alice }), ['id']);
    const unknown = await server.request('POST', `/api/runs/${UNKNOWN_RUN_ID}/retry`, {
      token: alice,
    });
    expect(unknown.status).toBe(404);
    expectErrorBody(unknown.body, 'RUN_NOT_FOUND');
  });

  it('jobs: an unknown job is 404 JOB_NOT_FOUND; PATCH validates its body', async () => {
    const get = await server.request('GET', '/api/jobs/no.such.job', { token: viewer });
    expect(get.status).toBe(404);
    expectErrorBody(get.body, 'JOB_NOT_FOUND');
    const patchUnknown = await server.request('PATCH', '/api/jobs/no.such.job', {
      token: admin,
      body: { enabled: true },
    });
    expect(patchUnknown.status).toBe(404);
    expectErrorBody(patchUnknown.body, 'JOB_NOT_FOUND');
    for (const body of [{ enabled: 'no' }, { enabled: true, extra: 1 }, {}]) {
      const res = await server.request('PATCH', `/api/jobs/${TYPED}`, { token: admin, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expectErrorBody(res.body, 'INVALID_INPUT');
    }
  });

  it('an unknown route: 404 NOT_FOUND with the error body', async () => {
    const res = await server.request('GET', '/api/nothing-here', { token: viewer });
    expect(res.status).toBe(404);
    expectErrorBody(res.body, 'NOT_FOUND');
  });
});

describe('random bodies never cause a 5xx', () => {
  const anyBody = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })),
  );
  const someString = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', '__proto__'));
  const statusLike = fc.oneof(fc.constantFrom(...RUN_STATUSES), someString);
  const idLike = fc.oneof(fc.uuid(), fc.constant(UNKNOWN_RUN_ID), someString);
  /** Sometimes the raw text is not JSON at all. */
  const rawText = fc.string({ maxLength: 60 }).map((text) => ({ raw: text }));

  async function send(path: string, body: unknown) {
    const res =
      typeof body === 'object' && body !== null && 'raw' in body
        ? await raw('POST', path, (body as { raw: string }).raw)
        : await raw('POST', path, JSON.stringify(body));
    expect(
      res.status,
      `${path} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`,
    ).toBeLessThan(500);
    if (res.status >= 400) expectErrorBody(res.body);
  }

  it('POST /api/jobs/:name/runs', async () => {
    const body = fc.oneof(
      anyBody,
      rawText,
      fc.record(
        {
          input: fc.oneof(
            fc.jsonValue({ maxDepth: 2 }),
            fc.record(
              { count: fc.oneof(fc.integer(), fc.double(), fc.string()), label: fc.jsonValue() },
              { requiredKeys: [] },
            ),
          ),
          runAt: fc.oneof(
            someString,
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.integer(),
          ),
          priority: fc.oneof(fc.integer(), fc.double(), someString),
          idempotencyKey: fc.oneof(someString, fc.integer()),
        },
        { requiredKeys: [] },
      ),
    );
    const job = fc.constantFrom(TYPED, QUICK, 'no.such.job', 'x'.repeat(129), '%20', '..');
    await fc.assert(
      fc.asyncProperty(job, body, async (name, value) =>
        send(`/api/jobs/${encodeURIComponent(name)}/runs`, value),
      ),
      { numRuns: 120 },
    );
  });

  it('POST /api/runs/:id/cancel', async () => {
    const body = fc.oneof(
      anyBody,
      rawText,
      fc.record(
        {
          mode: fc.oneof(fc.constantFrom('graceful', 'force'), someString),
          reason: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
    );
    const id = fc.oneof(
      fc.constant(finishedId),
      idLike.filter((s) => s.length > 0),
    );
    await fc.assert(
      fc.asyncProperty(id, body, async (runId, value) =>
        send(`/api/runs/${encodeURIComponent(runId)}/cancel`, value),
      ),
      { numRuns: 100 },
    );
  });

  it('POST /api/runs/cancel', async () => {
    const body = fc.oneof(
      anyBody,
      rawText,
      fc.record(
        {
          ids: fc.oneof(fc.array(idLike, { maxLength: 5 }), fc.jsonValue({ maxDepth: 1 })),
          job: fc.oneof(fc.constantFrom(TYPED, QUICK), someString),
          status: fc.oneof(fc.array(statusLike, { maxLength: 4 }), someString),
          mode: fc.oneof(fc.constantFrom('graceful', 'force'), someString),
          reason: fc.oneof(someString, fc.jsonValue({ maxDepth: 1 })),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => send('/api/runs/cancel', value)),
      { numRuns: 100 },
    );
  });

  it('GET /api/runs with random query values', async () => {
    const value = fc.oneof(someString, fc.integer().map(String), fc.constantFrom(...RUN_STATUSES));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { status: value, job: value, createdBy: value, limit: value, cursor: value },
          { requiredKeys: [] },
        ),
        async (query) => {
          const qs = new URLSearchParams(query as Record<string, string>).toString();
          const res = await server.request('GET', `/api/runs?${qs}`, { token: viewer });
          expect(res.status, `?${qs} → ${JSON.stringify(res.body)}`).toBeLessThan(500);
          if (res.status >= 400) expectErrorBody(res.body);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('afterwards', () => {
  it('the store is intact: health is ok, every run can be listed and read', async () => {
    expect((await server.request('GET', '/healthz')).body).toMatchObject({
      status: 'ok',
      store: 'ok',
    });
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { runs: { id: string }[]; nextCursor: string | null } } =
        await server.request('GET', `/api/runs?limit=100${cursor ? `&cursor=${cursor}` : ''}`, {
          token: viewer,
        });
      expect(page.status).toBe(200);
      ids.push(...page.body.runs.map((r) => r.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(ids).toContain(finishedId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      const res = await server.request('GET', `/api/runs/${id}`, { token: viewer });
      expect(res.status).toBe(200);
    }
    const jobs = await server.request('GET', '/api/jobs', { token: viewer });
    expect(jobs.status).toBe(200);
    expect(jobs.body.jobs.map((j: { name: string }) => j.name).sort()).toEqual(
      [QUICK, TYPED, LONG_NAME].sort(),
    );
    // The server still creates and finishes runs.
    const run = await createRun(server, TYPED, { input: validInput });
    await waitForStatus(server, run.id, 'completed');
  });
});
