import type { FastifyInstance, FastifyBaseLogger, RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Principal, Role } from '../core/glossary.js';
import type { Jobdeck } from '../jobdeck.js';
import type { TokenSet } from './auth.js';
import type { EventLog, EventStreams } from './sse.js';
import type { SessionStore } from './sessions.js';
import type { MetricsRegistry } from '../metrics/metrics.js';

/** Who may call a route: `none` for public ones. Every route must say. */
export type RouteRole = Role | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: RouteRole;
    /** Answer a missing sign-in with the sign-in page (HTML) instead of JSON. */
    signInPage?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** The dashboard session the request was signed in with, if it came with a cookie. */
    sessionId: string | null;
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What route handlers may use: the services of the instance, never its store. */
export interface ApiContext {
  deck: Pick<
    Jobdeck,
    | 'runs'
    | 'cancels'
    | 'events'
    | 'registry'
    | 'feed'
    | 'instances'
    | 'clock'
    | 'alerts'
    | 'publicUrl'
  >;
  tokens: TokenSet;
  sessions: SessionStore;
  eventLog: EventLog;
  eventStreams: EventStreams;
  metrics: MetricsRegistry;
  /** Role needed for /metrics (`none` lets a scraper in without a token). */
  metricsRole: RouteRole;
}
