import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { TokenSet } from '../../src/api/auth.js';
import { LOG_OPTIONS, buildApiServer, type ApiServerOptions } from '../../src/api/server.js';
import type { App, RouteRole } from '../../src/api/context.js';
import type { JobDefinition } from '../../src/jobs/define.js';
import { Jobdeck, type JobdeckOptions } from '../../src/jobdeck.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDbPath } from './temp.js';

/** Tokens every API test can use: one principal per role, plus a second operator. */
export const TEST_TOKENS = {
  viewer: 'viewer-token-0001',
  alice: 'alice-operator-token-0001',
  bob: 'bob-operator-token-0001',
  admin: 'admin-token-0001',
} as const;
export const TEST_TOKENS_ENV = [
  `viewer:viewer:${TEST_TOKENS.viewer}`,
  `alice:operator:${TEST_TOKENS.alice}`,
  `bob:operator:${TEST_TOKENS.bob}`,
  `root:admin:${TEST_TOKENS.admin}`,
].join(',');

export interface TestServer {
  url: string;
  app: App;
  deck: Jobdeck;
  /** The SQLite file, for a second instance on the same store. */
  dbPath: string;
  /** Everything the server logged, as text, for checks such as "no token is ever logged". */
  output(): string;
  /** fetch against the server with a token (or none). */
  request(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
    // Tests read arbitrary JSON answers; `any` keeps their assertions short.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * A real API server on a real port, with a real worker on a fresh SQLite file, or on `store` when
 * given (which closing the server closes too).
 */
export async function startTestServer(
  jobs: JobDefinition[],
  options: {
    store?: Store;
    deck?: Partial<Omit<JobdeckOptions, 'store' | 'jobs'>>;
    metricsRole?: RouteRole;
    bodyLimit?: number;
    requestTimeoutMs?: number;
    trustProxy?: boolean;
    /** Open this database file (kept when the server closes) instead of a fresh one. */
    dbPath?: string;
    /** Listen on this port (a restart on the same address); default: any free one. */
    port?: number;
    sse?: ApiServerOptions['sse'];
    chatops?: ApiServerOptions['chatops'];
    /** Token entries besides the test principals' (`principal:role:token rate=…`). */
    extraTokens?: string[];
  } = {},
): Promise<TestServer> {
  const temp = options.store || options.dbPath ? null : tempDbPath();
  const path = options.dbPath ?? temp?.path ?? ':memory:';
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      captured += chunk.toString();
      done();
    },
  });
  const logger = pino({ level: 'trace', ...LOG_OPTIONS }, sink);
  const deck = new Jobdeck({
    store: options.store ?? new SqliteStore({ path }),
    jobs,
    worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000 },
    maintenance: { intervalMs: 50 },
    onError: (err, where) => logger.error({ err, where }, 'loop error'),
    ...options.deck,
  });
  await deck.start();
  const app = await buildApiServer({
    deck,
    tokens: TokenSet.parse([TEST_TOKENS_ENV, ...(options.extraTokens ?? [])].join(',')),
    logger,
    logRequests: true,
    ...(options.metricsRole ? { metricsRole: options.metricsRole } : {}),
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}),
    ...(options.sse ? { sse: options.sse } : {}),
    ...(options.chatops ? { chatops: options.chatops } : {}),
  });
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    app,
    deck,
    dbPath: path,
    output: () => captured,
    async request(method, requestPath, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      }
      const response = await fetch(url + requestPath, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON (HTML, metrics): keep the text.
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async close() {
      await app.close();
      await deck.close({ graceMs: 1000 });
      temp?.cleanup();
    },
  };
}
