import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import {
  ERROR_CODES,
  JobdeckError,
  isErrorCode,
  type ErrorCode,
  type FieldIssue,
} from '../core/errors.js';
import type { Run } from '../core/run.js';
import { isStoreUnavailable } from '../store/unavailable.js';
import { LIMITS, runDto } from './schemas.js';

/** The one place that turns any failure into the error body `{error, message, details?, requestId}`. */
export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  err: unknown,
): FastifyReply {
  const { code, message, details, run } = classify(err);
  const status = ERROR_CODES[code].status;
  if (status === 401) void reply.header('WWW-Authenticate', 'Bearer realm="jobdeck"');
  // An unreachable store is an outage, reported once per request at warn; anything else is a bug.
  if (code === 'STORE_UNAVAILABLE') request.log.warn({ code }, 'store unavailable');
  else if (status >= 500) request.log.error({ err }, 'request failed');
  return reply.status(status).send({
    error: code,
    message,
    ...(details ? { details } : {}),
    requestId: String(request.id),
    ...(run ? { run: runDto(run) } : {}),
  });
}

function classify(err: unknown): {
  code: ErrorCode;
  message: string;
  details?: FieldIssue[];
  run?: Run;
} {
  if (
    err instanceof JobdeckError ||
    (typeof err === 'object' &&
      err !== null &&
      isErrorCode((err as { code?: unknown }).code) &&
      err instanceof Error)
  ) {
    const e = err as JobdeckError;
    const run =
      e.code === 'RUN_FINISHED' || e.code === 'RUN_NOT_RETRYABLE'
        ? (e.data as Run | undefined)
        : undefined;
    return {
      code: e.code,
      message: e.message,
      ...(e.details ? { details: e.details } : {}),
      ...(run ? { run } : {}),
    };
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext;
    const details: FieldIssue[] = err.validation.map((v) => ({
      path: v.instancePath
        .split('/')
        .filter(Boolean)
        .map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      message: v.message ?? 'invalid',
      ...(where ? { in: where } : {}),
    }));
    return { code: 'INVALID_INPUT', message: issuesMessage(where, details), details };
  }
  const fastifyError = err as FastifyError;
  // INVALID_INPUT always names where the problem is, even when no single field can be blamed.
  const said = (
    where: string,
    message: string,
    detail: string,
    path: (string | number)[] = [],
  ) => ({
    code: 'INVALID_INPUT' as const,
    message,
    details: [{ path, message: detail, in: where }],
  });
  const invalid = (where: string, path: (string | number)[] = []) =>
    said(where, fastifyError.message, fastifyError.message, path);
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE', message: ERROR_CODES.PAYLOAD_TOO_LARGE.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return invalid('headers', ['content-type']);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalid('headers', ['content-length']);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalid('body');
    // Fastify's own messages quote the whole URL, however long: say what is wrong instead.
    case 'FST_ERR_BAD_URL':
      return said('params', 'The URL has a broken percent-encoding (%XX).', 'broken %-encoding');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return said(
        'params',
        `A path parameter is longer than ${LIMITS.pathParam} characters.`,
        `longer than ${LIMITS.pathParam} characters`,
      );
  }
  // Malformed JSON and prototype-poisoning attempts are client errors.
  if (
    fastifyError.statusCode !== undefined &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    if (fastifyError.statusCode === 413)
      return { code: 'PAYLOAD_TOO_LARGE', message: ERROR_CODES.PAYLOAD_TOO_LARGE.message };
    if (fastifyError.statusCode === 404)
      return { code: 'NOT_FOUND', message: ERROR_CODES.NOT_FOUND.message };
    if (fastifyError.statusCode === 429)
      return { code: 'RATE_LIMITED', message: ERROR_CODES.RATE_LIMITED.message };
    return invalid('body');
  }
  if (isStoreUnavailable(err))
    return { code: 'STORE_UNAVAILABLE', message: ERROR_CODES.STORE_UNAVAILABLE.message };
  return { code: 'INTERNAL', message: ERROR_CODES.INTERNAL.message };
}

/** How each part of a request is named in a message. */
const PLACES: Record<string, { field: string; whole: string }> = {
  querystring: { field: 'Query string field', whole: 'Query string' },
  params: { field: 'Path parameter', whole: 'Path' },
  body: { field: 'Body field', whole: 'Body' },
  headers: { field: 'Header', whole: 'Headers' },
};

/**
 * The top-level message of a request that failed its schema: every field and its problem
 * (`Query string field q: …`), so a caller who reads only `message` (the CLI, a log) knows what
 * to fix.
 */
function issuesMessage(where: string | undefined, details: FieldIssue[]): string {
  const place = PLACES[where ?? ''] ?? { field: 'Field', whole: 'Request' };
  const text = details
    .map((d, i) => {
      const name = d.path.length ? `${place.field} ${d.path.join('.')}` : place.whole;
      return `${i === 0 ? name : name[0]!.toLowerCase() + name.slice(1)}: ${d.message}`;
    })
    .join('; ');
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
