import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { JobdeckError } from '../../core/errors.js';
import type { ApiContext, App } from '../context.js';
import { eventsQuery } from '../schemas.js';
import { STREAMED_EVENTS, type StreamEvent } from '../sse.js';
import { SESSION_COOKIE, readCookie, sessionCookie } from '../sessions.js';

/**
 * The dashboard as `npm run build` writes it (scripts/build-dashboard.mjs): pages, one script
 * bundle and styles, all files (nothing inline) so a strict CSP holds. dist/ sits beside src/, so
 * this path holds for the compiled server and for the sources alike. Read once, on first use.
 */
const DASHBOARD_DIR = new URL('../../../dist/dashboard/', import.meta.url);
const ASSET_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};
const dashboardFiles = new Map<string, string | null>();
function dashboardFile(name: string): string | null {
  if (!dashboardFiles.has(name)) {
    let text: string | null = null;
    try {
      text = readFileSync(new URL(name, DASHBOARD_DIR), 'utf8');
    } catch {
      // Not built, or no such file: the caller answers 404.
    }
    dashboardFiles.set(name, text);
  }
  return dashboardFiles.get(name)!;
}
function requireDashboardFile(name: string): string {
  const text = dashboardFile(name);
  if (text === null)
    throw new JobdeckError('NOT_FOUND', `No dashboard file ${name}: run npm run build.`);
  return text;
}
const dashboardPage = () =>
  requireDashboardFile('index.html').replace('{{streamedEvents}}', STREAMED_EVENTS.join(','));
/** Answered, with 401, to every dashboard page requested without a session. */
export const signInPage = () => requireDashboardFile('sign-in.html');

export function systemRoutes(app: App, ctx: ApiContext): void {
  const { deck, eventLog, eventStreams, metrics, sessions } = ctx;
  // Open event streams never end by themselves: end them when the server closes, or close() waits
  // for every connected dashboard to go away.
  app.addHook('preClose', async () => eventStreams.endAll());

  app.route({
    method: 'GET',
    url: '/healthz',
    config: { role: 'none' },
    schema: {
      operationId: 'getHealth',
      summary: 'Liveness and store reachability',
      description:
        "200 `ok`; 200 `degraded` while pushed notifications are down (the instance polls meanwhile); 503 when the store does not answer (the store's error is logged, never sent).",
      tags: ['system'],
      response: {
        200: z.object({
          status: z.enum(['ok', 'degraded']),
          store: z.literal('ok'),
          notifications: z.enum(['ok', 'down', 'none']),
        }),
        503: z.object({
          status: z.literal('unavailable'),
          store: z.literal('unreachable'),
          notifications: z.enum(['ok', 'down', 'none']),
        }),
      },
    },
    handler: async (request, reply) => {
      const notifications = deck.runs.notificationState();
      try {
        await withTimeout(deck.runs.ping(), 2000);
      } catch (err) {
        // Anyone may call /healthz: the database's error text goes to the log, not to the caller.
        request.log.warn({ err }, 'health check: the store does not answer');
        return reply.status(503).send({
          status: 'unavailable' as const,
          store: 'unreachable' as const,
          notifications,
        });
      }
      return {
        status: notifications === 'down' ? ('degraded' as const) : ('ok' as const),
        store: 'ok' as const,
        notifications,
      };
    },
  });

  app.route({
    method: 'GET',
    url: '/api/events',
    config: { role: 'viewer' },
    schema: {
      operationId: 'streamEvents',
      summary: 'Server-Sent Events of runs and jobs, from every instance',
      description:
        'Events: run.created, run.started, run.progress, run.log, run.cancelling, run.finished, run.retrying, run.stuck, job.updated. Ids are the store-wide seq: resume with Last-Event-ID on any instance within the retention window; an id that cannot be resumed gets a `reset` event first.',
      tags: ['events'],
      querystring: eventsQuery,
      response: {
        200: {
          description: 'The event stream; it ends when the client or the server closes it',
          content: { 'text/event-stream': { schema: z.string() } },
        },
      },
    },
    handler: async (request, reply) => {
      const { job, run, status } = request.query;
      const statuses = status ? new Set<string>(status) : null;
      const filter =
        job || run || statuses
          ? (event: StreamEvent) =>
              (!job || event.job === job) &&
              (!run || event.runId === run) &&
              (!statuses || (event.status !== null && statuses.has(event.status)))
          : null;
      const lastEventId = request.headers['last-event-id'];
      // Before the stream opens: a store that does not answer is a 503, not a broken stream.
      const start = await eventLog.resume(
        typeof lastEventId === 'string' ? lastEventId : undefined,
      );
      reply.hijack();
      const sessionId = request.sessionId;
      eventStreams.open(
        reply.raw,
        start,
        filter,
        request.log,
        sessionId ? { id: sessionId, active: () => sessions.isActive(sessionId) } : null,
      );
    },
  });

  app.route({
    method: 'GET',
    url: '/metrics',
    config: { role: ctx.metricsRole },
    schema: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      tags: ['system'],
      response: {
        200: {
          description: 'Prometheus text format',
          content: { 'text/plain': { schema: z.string() } },
        },
      },
    },
    handler: async (_request, reply) => {
      const text = await metrics.text();
      return reply.header('content-type', metrics.contentType).send(text);
    },
  });

  app.route({
    method: 'POST',
    url: '/api/session',
    config: { role: 'viewer' },
    schema: {
      operationId: 'signIn',
      summary: 'Sign the dashboard in: trades the bearer token for an HttpOnly session cookie',
      tags: ['system'],
      response: { 200: z.object({ principal: z.string(), role: z.string() }) },
    },
    handler: async (request, reply) => {
      const principal = request.principal!;
      const secure = request.protocol === 'https';
      void reply.header('set-cookie', sessionCookie(sessions.create(principal), { secure }));
      return { principal: principal.name, role: principal.role };
    },
  });

  app.route({
    method: 'DELETE',
    url: '/api/session',
    config: { role: 'none' },
    schema: {
      operationId: 'signOut',
      summary: 'Sign the dashboard out',
      tags: ['system'],
      response: { 204: z.null().describe('Signed out; the session cookie is cleared') },
    },
    handler: async (request, reply) => {
      const id = readCookie(request.headers.cookie, SESSION_COOKIE);
      if (id) sessions.delete(id);
      const secure = request.protocol === 'https';
      return reply
        .header('set-cookie', sessionCookie('', { secure, maxAgeSeconds: 0 }))
        .status(204)
        .send(null);
    },
  });

  app.route({
    method: 'GET',
    url: '/api/session',
    config: { role: 'viewer' },
    schema: {
      operationId: 'getSession',
      summary: 'Who is signed in: the principal and role of the session or token',
      tags: ['system'],
      response: { 200: z.object({ principal: z.string(), role: z.string() }) },
    },
    handler: async (request) => ({
      principal: request.principal!.name,
      role: request.principal!.role,
    }),
  });

  // Every dashboard path answers the app (history routing); the app shows the page of its URL.
  for (const url of ['/dashboard', '/dashboard/*']) {
    app.route({
      method: 'GET',
      url,
      config: { role: 'viewer', signInPage: true },
      schema: {
        operationId: 'getDashboard',
        summary: 'The web dashboard (signed-in users; others get the sign-in page with 401)',
        tags: ['system'],
        hide: url !== '/dashboard',
        response: {
          200: {
            description: 'The dashboard app',
            content: { 'text/html': { schema: z.string() } },
          },
        },
      },
      handler: async (_request, reply) =>
        reply
          .header('content-type', 'text/html; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send(dashboardPage()),
    });
  }

  app.route({
    method: 'GET',
    url: '/dashboard/assets/:file',
    // The sign-in page needs its files before anyone is signed in. Public: no secrets.
    config: { role: 'none' },
    schema: { hide: true, params: z.object({ file: z.string() }) },
    handler: async (request, reply) => {
      const { file } = request.params;
      const type = ASSET_TYPES[file.slice(file.lastIndexOf('.') + 1)];
      const text = /^[\w.-]+$/.test(file) && type ? dashboardFile(`assets/${file}`) : null;
      if (text === null || !type) throw new JobdeckError('NOT_FOUND', `No dashboard file ${file}.`);
      return reply.header('content-type', type).header('cache-control', 'no-cache').send(text);
    },
  });

  app.route({
    method: 'GET',
    url: '/',
    config: { role: 'none' },
    // A convenience for browsers, not an operation of the API: no client calls it.
    schema: { hide: true },
    handler: async (_request, reply) => reply.redirect('/dashboard'),
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
