import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { ChatopsConfig } from '../chatops/config.js';
import { JobdeckError, errorSummary } from '../core/errors.js';
import { writtenDuration } from '../core/duration.js';
import { roleAtLeast } from '../core/glossary.js';
import type { Jobdeck } from '../jobdeck.js';
import { MetricsRegistry } from '../metrics/metrics.js';
import { bearerToken, type TokenMatch, type TokenSet } from './auth.js';
import type { ApiContext, App, RouteRole } from './context.js';
import { sendError } from './http-errors.js';
import { SWAGGER_OPTIONS, documentRoute } from './openapi.js';
import { LIMITS } from './schemas.js';
import { chatopsRoutes } from './routes/chatops.js';
import { alertRoutes } from './routes/alerts.js';
import { jobRoutes } from './routes/jobs.js';
import { runRoutes } from './routes/runs.js';
import { statsRoutes } from './routes/stats.js';
import { signInPage, systemRoutes } from './routes/system.js';
import { workerRoutes } from './routes/workers.js';
import { SESSION_COOKIE, SessionStore, readCookie } from './sessions.js';
import { EventLog, EventStreams, type SseLimits } from './sse.js';

export interface ApiServerOptions {
  deck: Jobdeck;
  tokens: TokenSet;
  /** A pino logger, or false for none. Authorization headers and cookies are always redacted. */
  logger?: FastifyBaseLogger | boolean;
  /** Largest request body accepted (bytes). Default 1 MiB. */
  bodyLimit?: number;
  metricsRole?: RouteRole;
  /** Prefix of Node.js's and the process's own metrics in /metrics (`process_*`, `nodejs_*`); none by default. */
  processMetricsPrefix?: string;
  /** Log every request (off by default). */
  logRequests?: boolean;
  /** A request must arrive whole (headers and body) within this. Default 30 s. */
  requestTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed. Default 60 s. */
  idleTimeoutMs?: number;
  /**
   * Trust X-Forwarded-* from a reverse proxy (Fastify's `trustProxy`: true, or the proxies'
   * addresses), so the session cookie is `Secure` when the proxy says the client used HTTPS.
   */
  trustProxy?: boolean | string | string[];
  /** How event streams treat clients that do not keep up. */
  sse?: Partial<SseLimits>;
  /**
   * The `chatops:` section of the alerts file (see `parseChatopsConfig`): chat users and the
   * Telegram and Slack secrets. Without it, `POST /api/chatops` still answers API tokens.
   */
  chatops?: ChatopsConfig;
}

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'req.headers["x-telegram-bot-api-secret-token"]',
];

/**
 * Headers on every answer: the dashboard loads only its own files (a strict CSP, nothing inline),
 * no answer is sniffed as another type, and no page may be framed (clickjacking).
 */
export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

/** Logged errors are summaries (type, code, message, stack), never the objects attached to them. */
export const LOG_SERIALIZERS = { err: errorSummary, error: errorSummary };

/** What every logger of an instance redacts and how it writes errors. */
export const LOG_OPTIONS = { redact: REDACTED_PATHS, serializers: LOG_SERIALIZERS };

/** The HTTP API, the SSE stream, metrics and the dashboard of one instance. */
export async function buildApiServer(options: ApiServerOptions): Promise<App> {
  const { deck, tokens } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const logging =
    typeof options.logger === 'object'
      ? { loggerInstance: options.logger }
      : {
          logger: options.logger === true ? LOG_OPTIONS : false,
        };
  const app = Fastify({
    ...logging,
    // One line per request is noise for a dashboard that polls; errors are logged by sendError.
    logController: new LogController({ disableRequestLogging: !options.logRequests }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    genReqId: () => randomUUID(),
    // Job names may be 128 characters long; the router's default (100) answered longer ones 414.
    routerOptions: { maxParamLength: LIMITS.pathParam },
    // Bad URLs (overlong parameters, broken percent-encoding) get the API's error body too.
    frameworkErrors: (err, request, reply) => {
      void sendError(reply, request, err);
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Slow clients (a body dripped a byte at a time) must not hold connections forever. Event
    // streams are long responses to complete requests: the request time-out never ends them, and
    // their heartbeats keep them from being idle.
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    requestTimeout: requestTimeoutMs,
    connectionTimeout: options.idleTimeoutMs ?? 60_000,
    // Node enforces the request time-out only when the headers' one is no longer, and checks
    // every 30 s by default: check often enough to honour it.
    http: {
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(requestTimeoutMs / 4)),
    },
  }).withTypeProvider<ZodTypeProvider>() as unknown as App;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null);
  app.decorateRequest('sessionId', null);

  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/openapi') || route.method === 'HEAD') return;
    const role = route.config?.role;
    if (!role) throw new Error(`route ${String(route.method)} ${route.url} declares no role`);
    documentRoute(route, role);
  });

  await app.register(fastifySwagger, SWAGGER_OPTIONS);
  // Request rates per token (those the tokens file limits), counted by this instance.
  await app.register(fastifyRateLimit, { global: false });
  const limitedTokens = new WeakMap<object, TokenMatch>();
  const tokenRate = app.createRateLimit({
    keyGenerator: (request) => limitedTokens.get(request)!.key,
    max: (request) => limitedTokens.get(request)!.rateLimit!.max,
    timeWindow: (request) => limitedTokens.get(request)!.rateLimit!.perMs,
  });

  const sessions = new SessionStore();
  const eventLog = new EventLog(deck.feed);
  const eventStreams = new EventStreams(eventLog, {
    highWaterBytes: 256 * 1024,
    stallMs: 10_000,
    ...options.sse,
  });
  const offSignOut = sessions.onSignOut((id) => eventStreams.endSession(id));
  const metrics = new MetricsRegistry(
    {
      openEventStreams: () => eventStreams.size,
      bus: deck.events,
      countUnfinished: () => deck.runs.countUnfinished(),
      activeHere: () => deck.worker?.activeCount ?? 0,
      jobs: () => deck.registry.list().map((job) => job.name),
      counters: deck.counters,
      ...(deck.worker ? { eventLoopDelay: () => deck.worker!.eventLoopDelay() } : {}),
    },
    options.processMetricsPrefix ? { processPrefix: options.processMetricsPrefix } : {},
  );
  app.addHook('onClose', async () => {
    offSignOut();
    eventStreams.close();
    eventLog.close();
    metrics.close();
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.headers(SECURITY_HEADERS);
    return payload;
  });

  app.addHook('onRequest', async (request, reply) => {
    const role = request.routeOptions.config.role;
    if (role === undefined || role === 'none') return;
    const token = bearerToken(request.headers.authorization);
    const match = token ? tokens.match(token) : null;
    let principal = match?.principal ?? null;
    if (!principal && !token) {
      const session = readCookie(request.headers.cookie, SESSION_COOKIE);
      // Cookie sessions may change state only from our own pages, which send this header.
      const safe = request.method === 'GET' || request.headers['x-jobdeck-request'] === '1';
      if (session && safe) {
        principal = sessions.lookup(session);
        if (principal) request.sessionId = session;
      }
    }
    if (!principal) {
      if (request.routeOptions.config.signInPage) {
        return reply
          .status(401)
          .header('WWW-Authenticate', 'Bearer realm="jobdeck"')
          .header('content-type', 'text/html; charset=utf-8')
          .send(signInPage());
      }
      return sendError(
        reply,
        request,
        new JobdeckError(
          'UNAUTHENTICATED',
          token ? 'The bearer token is not valid.' : 'A bearer token is required.',
        ),
      );
    }
    if (match?.rateLimit) {
      limitedTokens.set(request, match);
      const verdict = await tokenRate(request);
      if (!verdict.isAllowed) {
        void reply.headers({
          'X-RateLimit-Limit': verdict.max,
          'X-RateLimit-Remaining': verdict.remaining,
        });
      }
      if (!verdict.isAllowed && verdict.isExceeded) {
        void reply.header('Retry-After', String(verdict.ttlInSeconds));
        return sendError(
          reply,
          request,
          new JobdeckError(
            'RATE_LIMITED',
            `The token of ${principal.name} may make ${match.rateLimit.max} requests per ${writtenDuration(match.rateLimit.perMs)}; try again in ${verdict.ttlInSeconds} s.`,
          ),
        );
      }
    }
    if (!roleAtLeast(principal.role, role)) {
      return sendError(
        reply,
        request,
        new JobdeckError(
          'FORBIDDEN',
          `This needs the ${role} role; ${principal.name} is ${principal.role}.`,
        ),
      );
    }
    request.principal = principal;
  });

  app.setErrorHandler((err, request, reply) => sendError(reply, request, err));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      request,
      new JobdeckError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`),
    ),
  );

  const ctx: ApiContext = {
    deck: {
      runs: deck.runs,
      cancels: deck.cancels,
      events: deck.events,
      registry: deck.registry,
      feed: deck.feed,
      instances: deck.instances,
      clock: deck.clock,
      alerts: deck.alerts,
      publicUrl: deck.publicUrl,
    },
    tokens,
    sessions,
    eventLog,
    eventStreams,
    metrics,
    metricsRole: options.metricsRole ?? 'viewer',
  };
  jobRoutes(app, ctx);
  runRoutes(app, ctx);
  workerRoutes(app, ctx);
  statsRoutes(app, ctx);
  await chatopsRoutes(app, ctx, options.chatops ?? null);
  alertRoutes(app, ctx);
  systemRoutes(app, ctx);

  app.route({
    method: 'GET',
    url: '/openapi.json',
    config: { role: 'none' },
    schema: { hide: true },
    handler: async () => app.swagger(),
  });

  await app.ready();
  return app;
}
