import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifySchema, RouteOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JOBDECK_LICENSE, JOBDECK_VERSION } from '../instances/version.js';
import type { RouteRole } from './context.js';
import { errorResponse } from './schemas.js';

/**
 * The OpenAPI document at /openapi.json: what the routes' schemas say, plus what every route gets
 * from its role (`documentRoute`). test/openapi.lint.test.ts lints it with Redocly's recommended
 * rules (redocly.yaml).
 */

/** Every tag an operation may carry, with what it groups. */
const TAGS = [
  { name: 'jobs', description: 'Registered jobs: list, inspect, enable and disable them.' },
  { name: 'runs', description: 'Start, list, read, cancel and retry runs; read their logs.' },
  { name: 'events', description: 'Server-Sent Events of runs and jobs, from every instance.' },
  { name: 'workers', description: 'The instances sharing the store and the runs they execute.' },
  {
    name: 'stats',
    description: 'Runs created, started and ended over time; the runs waiting now.',
  },
  {
    name: 'alerts',
    description: 'Alerts recorded from the rules of the alerts file, and test messages.',
  },
  { name: 'chatops', description: '`/jobs` chat commands from API tokens, Telegram and Slack.' },
  { name: 'system', description: 'Health, metrics, dashboard sessions and the dashboard.' },
];

export const SWAGGER_OPTIONS: FastifyDynamicSwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Jobdeck API',
      version: JOBDECK_VERSION,
      description:
        'Background jobs you can watch and stop: start runs, follow their progress and logs, cancel them gracefully or by force. Send `Authorization: Bearer <token>`; each operation names the least role that may call it in `x-jobdeck-role`. Errors have one body, `Error`, whose `error` is a stable code.',
      license: { name: JOBDECK_LICENSE, identifier: JOBDECK_LICENSE },
    },
    // Relative: resolved against where this document was fetched, so it holds behind any proxy.
    servers: [{ url: '/', description: 'The instance that serves this document' }],
    tags: TAGS,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  },
  transform: jsonSchemaTransform,
  // Puts the schemas named with .meta({ id }) (Run, Job, Error…) under components.schemas.
  transformObject: (document) => withReachableSchemas(jsonSchemaTransformObject(document)),
};

type Responses = Record<string, unknown>;

/**
 * What a route's role and input say about it in the document, so no route has to repeat it: its
 * role (`x-jobdeck-role`) and security; 400 when it validates input; 401 unless it is public;
 * 403 when it needs more than viewer (every valid token is at least viewer). A status the route
 * declares itself is kept.
 */
export function documentRoute(route: RouteOptions, role: RouteRole): void {
  const schema: FastifySchema = route.schema ?? {};
  const response: Responses = { ...(schema.response as Responses | undefined) };
  if (schema.body || schema.querystring || schema.params || schema.headers)
    response[400] ??= errorResponse(
      'INVALID_INPUT: the request does not match its schema; `details` names each field and where it is',
    );
  if (role !== 'none')
    response[401] ??= route.config?.signInPage
      ? {
          description: 'UNAUTHENTICATED: the sign-in page (HTML)',
          content: { 'text/html': { schema: z.string() } },
        }
      : errorResponse('UNAUTHENTICATED: no bearer token, or one that is not configured');
  if (role === 'operator' || role === 'admin')
    response[403] ??= errorResponse(`FORBIDDEN: the token's role is below ${role}`);
  route.schema = {
    ...schema,
    response,
    security: role === 'none' ? [] : [{ bearer: [] }],
    'x-jobdeck-role': role,
  } as FastifySchema;
}

const SCHEMA_REF = '#/components/schemas/';
type OpenApiDocument = ReturnType<typeof jsonSchemaTransformObject>;

/**
 * The document without the component schemas no operation reaches. The zod type provider emits an
 * input and an output variant of every schema named in the process (`RunInput` beside `Run`),
 * used or not; unused components are noise to tools and fail the linter.
 */
function withReachableSchemas(document: OpenApiDocument): OpenApiDocument {
  if (!('components' in document) || !document.components?.schemas) return document;
  const schemas: Record<string, unknown> = document.components.schemas;
  const reached = new Set<string>();
  // Arrays are walked as objects (their entries are their items).
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key !== '$ref' || typeof value !== 'string') visit(value);
      else if (value.startsWith(SCHEMA_REF)) {
        const name = value.slice(SCHEMA_REF.length);
        if (reached.has(name)) continue;
        reached.add(name);
        visit(schemas[name]);
      }
    }
  };
  visit({ ...document, components: { ...document.components, schemas: {} } });
  return {
    ...document,
    components: {
      ...document.components,
      schemas: Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name))),
    },
  } as OpenApiDocument;
}
