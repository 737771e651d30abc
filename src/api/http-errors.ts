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
import { runDto } from './schemas.js';

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
    return {
      code: 'INVALID_INPUT',
      message: `The request ${where ?? 'input'} is not valid.`,
      details,
    };
  }
  const fastifyError = err as FastifyError;
  // INVALID_INPUT always names where the problem is, even when no single field can be blamed.
  const invalid = (where: string, path: (string | number)[] = []) => ({
    code: 'INVALID_INPUT' as const,
    message: fastifyError.message,
    details: [{ path, message: fastifyError.message, in: where }],
  });
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE', message: ERROR_CODES.PAYLOAD_TOO_LARGE.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return invalid('headers', ['content-type']);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalid('headers', ['content-length']);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalid('body');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return invalid('params');
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
