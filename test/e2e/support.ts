/**
 * Shared pieces of the end-to-end tests: test jobs the tests hold at known points (gates), an SSE
 * subscriber, small HTTP helpers and the "no token in the logs" check. Everything goes over real
 * HTTP to a real server (see test/helpers/server.ts); the jobs run in the same process, so a test
 * can hold a handler with a deferred and release it when it has checked what it wants.
 */
import { expect } from 'vitest';
import { z } from 'zod';
import { createParser } from 'eventsource-parser';
import http from 'node:http';
import net from 'node:net';
import { defineJob, type JobOptions } from '../../src/jobs/define.js';
import { deferred } from '../helpers/deck.js';
import { pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, type TestServer } from '../helpers/server.js';

export type Deferred<T = void> = ReturnType<typeof deferred<T>>;

/** What a gated handler did, and the switches a test holds it with. */
export interface Gate {
  /** How many times a handler started with this key. */
  starts: number;
  /** Resolved when the handler reached its first held point. */
  entered: Deferred;
  /** Resolve to let the handler past its first held point. */
  release: Deferred;
  /** Resolve to let the handler past its second held point (jobs that have one). */
  release2: Deferred;
  /** Resolved with `ctx.signal.reason` when the handler's signal aborts. */
  aborted: Deferred<unknown>;
  /** Resolved with the reason when an `onCancel` cleanup ran. */
  cleaned: Deferred<unknown>;
  /** Resolved when the handler settled (returned or threw). */
  settled: Deferred;
  signalAborted: boolean;
}

/** Gates by key; a test picks a fresh key per run and passes it in the run's input. */
export class Gates {
  private readonly gates = new Map<string, Gate>();
  private counter = 0;

  /** A key no other run of this file uses. */
  key(prefix = 'g'): string {
    return `${prefix}-${++this.counter}`;
  }

  get(key: string): Gate {
    let gate = this.gates.get(key);
    if (!gate) {
      gate = {
        starts: 0,
        entered: deferred(),
        release: deferred(),
        release2: deferred(),
        aborted: deferred<unknown>(),
        cleaned: deferred<unknown>(),
        settled: deferred(),
        signalAborted: false,
      };
      this.gates.set(key, gate);
    }
    return gate;
  }

  /** Let every held handler go (end of file), so the worker can stop promptly. */
  releaseAll(): void {
    for (const gate of this.gates.values()) {
      gate.release.resolve();
      gate.release2.resolve();
    }
  }
}

/** Wait for `promise`, or reject with the signal's reason as soon as it aborts. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

const gateInput = z.object({ key: z.string().min(1), steps: z.number().int().min(1).default(2) });

/**
 * A job of `steps` sequential `ctx.step`s. Step 1 logs `step 1 started`, resolves `entered`, waits
 * for `release` (or the signal), then logs `step 1 ended`; later steps log and end at once. After
 * each step it reports progress n/steps. Records its signal's abort, its cleanups and its end.
 */
export function gateJob(
  gates: Gates,
  options: Partial<Omit<JobOptions<typeof gateInput, unknown>, 'run' | 'input'>> & {
    name: string;
  },
) {
  return defineJob({
    maxAttempts: 1,
    forceGrace: 1000,
    ...options,
    input: gateInput,
    async run(ctx, input) {
      const gate = gates.get(input.key);
      gate.starts++;
      ctx.signal.addEventListener(
        'abort',
        () => {
          gate.signalAborted = true;
          gate.aborted.resolve(ctx.signal.reason);
        },
        { once: true },
      );
      ctx.onCancel((reason) => gate.cleaned.resolve(reason));
      try {
        for (let n = 1; n <= input.steps; n++) {
          await ctx.step(`step ${n}`, async (signal) => {
            ctx.log.info(`step ${n} started`);
            if (n === 1) {
              gate.entered.resolve();
              await unlessAborted(gate.release.promise, signal);
            }
            ctx.log.info(`step ${n} ended`);
          });
          ctx.progress({ processed: n, total: input.steps });
        }
        return { steps: input.steps };
      } finally {
        gate.settled.resolve();
      }
    },
  });
}

/**
 * A fan-out over `items` (one at a time): each item waits for its own gate `<key>:<item>` when
 * the item is listed in `hold`, and fails when listed in `fail`.
 */
export function fanOutJob(gates: Gates, name: string) {
  return defineJob({
    name,
    maxAttempts: 1,
    input: z.object({
      key: z.string(),
      items: z.array(z.string()).min(1),
      hold: z.array(z.string()).default([]),
      fail: z.array(z.string()).default([]),
    }),
    async run(ctx, input) {
      const summary = await ctx.forEach(
        input.items,
        async (item, { signal }) => {
          if (input.hold.includes(item)) {
            const gate = gates.get(`${input.key}:${item}`);
            gate.starts++;
            gate.entered.resolve();
            await unlessAborted(gate.release.promise, signal);
          }
          if (input.fail.includes(item)) throw new Error(`item ${item} failed`);
        },
        { key: (item) => item, concurrency: 1 },
      );
      return { succeeded: summary.succeeded, failed: summary.failed };
    },
  });
}

/** A job that returns at once. */
export const quickJob = (name: string) =>
  defineJob({
    name,
    maxAttempts: 1,
    input: z.object({ n: z.number().int().default(0) }).default({ n: 0 }),
    run: (_ctx, input) => ({ n: input.n }),
  });

/** A job that always throws (one attempt). */
export const failingJob = (name: string) =>
  defineJob({
    name,
    maxAttempts: 1,
    input: z.object({ n: z.number().int().default(0) }).default({ n: 0 }),
    run: () => {
      throw new Error('this job always fails');
    },
  });

/** A run id that looks right (UUIDv7, RFC variant) and belongs to no run. */
export const UNKNOWN_RUN_ID = '01890a5d-ac96-774b-bcce-b302099a8057';

/** Statuses a run stays in without anyone acting on it (in these tests: nothing is due). */
export const SETTLED_STATUSES = ['completed', 'partial', 'failed', 'cancelled', 'scheduled'];

/** Create a run over HTTP and expect 202. */
export async function createRun(
  server: TestServer,
  job: string,
  body: Record<string, unknown>,
  token: string = TEST_TOKENS.alice,
) {
  const res = await server.request('POST', `/api/jobs/${job}/runs`, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.run;
}

/** GET /api/runs/:id as the viewer. */
export async function getRun(server: TestServer, id: string) {
  const res = await server.request('GET', `/api/runs/${id}`, { token: TEST_TOKENS.viewer });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.run;
}

/** Poll GET /api/runs/:id until the run has one of `statuses`. */
export function waitForStatus(server: TestServer, id: string, ...statuses: string[]) {
  return pollUntil(
    async () => {
      const run = await getRun(server, id);
      return statuses.includes(run.status) ? run : undefined;
    },
    { what: `run ${id} to be ${statuses.join('|')}`, intervalMs: 20 },
  );
}

/** The run's logs over HTTP (all of them). */
export async function getLogs(server: TestServer, id: string, query = '') {
  const res = await server.request('GET', `/api/runs/${id}/logs${query}`, {
    token: TEST_TOKENS.viewer,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.logs as { seq: number; level: string; message: string; data?: unknown }[];
}

/** Poll the run's logs until one has `message`. */
export function waitForLog(server: TestServer, id: string, message: string) {
  return pollUntil(
    async () => (await getLogs(server, id)).find((entry) => entry.message === message),
    { what: `log "${message}" of run ${id}`, intervalMs: 20 },
  );
}

/** Every error answer of the API has this shape. */
export function expectErrorBody(body: unknown, code?: string): void {
  expect(body).toMatchObject({
    error: expect.any(String),
    message: expect.any(String),
    requestId: expect.any(String),
  });
  const error = body as { error: string; details?: unknown };
  if (code) expect(error.error).toBe(code);
  if (error.error === 'INVALID_INPUT') {
    expect(
      Array.isArray(error.details),
      `INVALID_INPUT without details: ${JSON.stringify(body)}`,
    ).toBe(true);
    expect((error.details as unknown[]).length).toBeGreaterThan(0);
  }
}

/**
 * Close the server, then check that no configured token appears anywhere in what it logged. Every
 * token is sent once more first, so the check reads a log of requests that carried each of them
 * (even when a test filter skipped the file's tests).
 */
export async function closeAndCheckNoTokenLogged(server: TestServer): Promise<void> {
  for (const token of Object.values(TEST_TOKENS)) {
    await server.request('GET', '/api/jobs', { token });
    await server.request('GET', '/api/jobs', { headers: { cookie: `jobdeck_session=${token}` } });
  }
  await server.close();
  expectNoTokenLogged(server);
}

/** No configured token appears in what the server logged so far; requests were logged. */
export function expectNoTokenLogged(server: TestServer): void {
  const output = server.output();
  // Requests are logged (trace level in tests): the check reads a real log, not an empty one.
  expect(output).toContain('incoming request');
  for (const [who, token] of Object.entries(TEST_TOKENS)) {
    expect(output.includes(token), `the token of ${who} appears in the server log`).toBe(false);
  }
}

/** One event of the stream, as the typed client also gives it. */
export interface StreamEvent {
  id: string | undefined;
  name: string;
  data: unknown;
  /** When this process received it (ms since the epoch). */
  receivedAt: number;
}

/** An open SSE subscription, collecting events as they arrive. */
export interface EventStream {
  readonly events: StreamEvent[];
  /** Resolves once the server accepted the stream (it is subscribed from then on). */
  readonly opened: Promise<void>;
  /** The first collected event (past or future) matching `predicate`. */
  waitFor(predicate: (event: StreamEvent) => boolean, what: string): Promise<StreamEvent>;
  /** Resolves when the server ended the stream (or it was closed here). */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

/**
 * Subscribe to GET /api/events with a bearer header (or a dashboard session's cookie). Streams use node:http on a socket of their
 * own (no keep-alive pool), so closing one never disturbs the connections of other requests.
 */
export function openEvents(
  server: Pick<TestServer, 'url'>,
  filter: { job?: string; run?: string; status?: string },
  options: { token?: string; cookie?: string; lastEventId?: string } = {},
): EventStream {
  const events: StreamEvent[] = [];
  const waiters = new Set<{
    predicate: (e: StreamEvent) => boolean;
    resolve: (e: StreamEvent) => void;
  }>();
  const query = new URLSearchParams(filter).toString();
  const opened = deferred();
  const ended = deferred();
  let refuse: (err: unknown) => void = () => {};
  const openedOrRefused = new Promise<void>((resolve, reject) => {
    refuse = reject;
    void opened.promise.then(resolve);
  });
  const parser = createParser({
    onEvent: (message) => {
      const event = {
        id: message.id,
        name: message.event ?? 'message',
        data: JSON.parse(message.data) as unknown,
        receivedAt: Date.now(),
      };
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(event)) {
          waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
    },
  });
  const request = http.get(
    `${server.url}/api/events${query ? `?${query}` : ''}`,
    {
      agent: false,
      headers: {
        ...(options.cookie
          ? { cookie: options.cookie }
          : { authorization: `Bearer ${options.token ?? TEST_TOKENS.viewer}` }),
        accept: 'text/event-stream',
        ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
      },
    },
    (response) => {
      response.setEncoding('utf8');
      if (response.statusCode !== 200) {
        let text = '';
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          const body = JSON.parse(text) as { error?: string };
          refuse(Object.assign(new Error(text), { status: response.statusCode, code: body.error }));
          ended.resolve();
        });
        return;
      }
      opened.resolve();
      response.on('data', (chunk: string) => parser.feed(chunk));
      response.on('close', () => ended.resolve());
    },
  );
  request.on('error', (err) => refuse(err));
  request.on('close', () => ended.resolve());
  return {
    events,
    opened: openedOrRefused,
    ended: ended.promise,
    waitFor(predicate, what) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise<StreamEvent>((resolve, reject) => {
        // A bound, so a missing event fails the test with its name instead of hanging it.
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const got = JSON.stringify(events.map((e) => [e.id, e.name]));
          reject(new Error(`no ${what} within 10 s; got ${got}`));
        }, 10_000);
        const waiter = {
          predicate,
          resolve: (event: StreamEvent) => {
            clearTimeout(timer);
            resolve(event);
          },
        };
        waiters.add(waiter);
      });
    },
    async close() {
      request.destroy();
      await ended.promise;
    },
  };
}

/** A bare event stream on a socket of its own, which a test can stop reading (`socket.pause()`). */
export interface RawEventStream {
  socket: net.Socket;
  /** Bytes read so far (headers included). */
  readonly received: number;
  /** Resolves when the connection closed (by the server, or here). */
  readonly closed: Promise<void>;
}

/** GET /api/events`query` written by hand on a plain TCP socket, as a client that can stall. */
export function openRawEvents(
  server: Pick<TestServer, 'url'>,
  query = '',
  token: string = TEST_TOKENS.viewer,
): RawEventStream {
  const { port } = new URL(server.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  const closed = deferred();
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  socket.on('error', () => {}); // a reset by the server ends the socket like a close
  socket.on('close', () => closed.resolve());
  socket.write(
    `GET /api/events${query} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
      `authorization: Bearer ${token}\r\n\r\n`,
  );
  return {
    socket,
    get received() {
      return received;
    },
    closed: closed.promise,
  };
}

/** A request on a socket of its own; an event stream is closed once its headers arrived. */
export function rawRequest(
  server: TestServer,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${server.url}${path}`,
      { method, headers, agent: false },
      (response) => {
        const result = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined)
            result.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const done = (text: string) => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            // HTML, metrics text.
          }
          resolve({ status: response.statusCode!, headers: result, body, text });
        };
        if ((result.get('content-type') ?? '').startsWith('text/event-stream')) {
          response.once('data', (chunk: Buffer) => {
            request.destroy();
            done(chunk.toString('utf8'));
          });
          return;
        }
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => done(text));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** The run id an SSE event is about. */
export function eventRunId(event: StreamEvent): string {
  const data = event.data as { run?: { id: string }; runId?: string };
  return data.run?.id ?? data.runId!;
}
