import { storableText } from './text.js';

/**
 * The one registry of error codes. Each code has its HTTP status and a default message; the API,
 * the OpenAPI document and docs/reference/errors.md are kept in step with it by a test. Errors
 * that cross a thread or process boundary are matched by `code`, never by class or message.
 */
export const ERROR_CODES = {
  INVALID_INPUT: { status: 400, message: 'The request or the run input is not valid.' },
  UNAUTHENTICATED: { status: 401, message: 'A valid bearer token is required.' },
  FORBIDDEN: { status: 403, message: 'Your role or ownership does not allow this.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  JOB_NOT_FOUND: { status: 404, message: 'No job is registered with that name.' },
  RUN_NOT_FOUND: { status: 404, message: 'No run has that id.' },
  JOB_DISABLED: { status: 409, message: 'The job is disabled.' },
  ALREADY_RUNNING: {
    status: 409,
    message: 'The job does not allow concurrent runs and one is active.',
  },
  RUN_FINISHED: { status: 409, message: 'The run has already finished.' },
  RUN_NOT_RETRYABLE: { status: 409, message: 'Only failed or cancelled runs can be retried.' },
  RUN_NOT_PAUSED: { status: 409, message: 'Only a paused run can be resumed.' },
  INVALID_TRANSITION: { status: 409, message: 'That status change is not allowed.' },
  LEASE_LOST: {
    status: 409,
    message: 'The attempt no longer holds the run; its write was refused.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
  STORE_UNAVAILABLE: { status: 503, message: 'The store cannot be reached.' },
  // Library calls (not HTTP answers).
  WAIT_TIMEOUT: { status: 504, message: 'The run did not finish within the time given.' },
  // Run outcomes (stored in run.error; not HTTP answers).
  HANDLER_ERROR: { status: 500, message: 'The handler threw an error.' },
  TIMEOUT: { status: 500, message: 'The run exceeded its timeout.' },
  HEARTBEAT_TIMEOUT: { status: 500, message: 'The handler reported nothing for too long.' },
  ITEMS_FAILED: { status: 500, message: 'Every item of the fan-out failed.' },
  RESULT_NOT_STORABLE: {
    status: 500,
    message: 'The handler returned a result the store cannot keep (not JSON, or text it refuses).',
  },
  STEP_NAME_REUSED: {
    status: 500,
    message: 'A step name was used twice in one attempt; each step of a run needs its own name.',
  },
  WORKER_LOST: { status: 500, message: 'The worker holding the run stopped renewing its lease.' },
  STEP_INTERRUPTED: { status: 500, message: 'The attempt running the step ended before it did.' },
  CANCELLED: { status: 409, message: 'The run was cancelled.' },
  PAUSED: {
    status: 409,
    message: 'The run was asked to pause: its handler stops at this checkpoint.',
  },
  WAITING: {
    status: 409,
    message:
      'The run waits for its child runs: its attempt ends here and a new one starts once they end.',
  },
  CHILD_RUN_FAILED: {
    status: 500,
    message: 'A child run the run waited for ended failed or cancelled.',
  },
  ISOLATE_CRASHED: { status: 500, message: 'The thread or process running the handler crashed.' },
  ISOLATE_EXITED: {
    status: 500,
    message: 'The thread or process running the handler exited before it settled.',
  },
  ISOLATE_OUT_OF_MEMORY: {
    status: 500,
    message: 'The thread running the handler reached its memory limit.',
  },
  EXEC_EXIT: { status: 500, message: 'The command exited with a non-zero code or on a signal.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A code of the one registry (docs/reference/errors.md); match errors by it, never by message. */
export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** One problem with one field of an input, with the path to it. */
export interface FieldIssue {
  path: (string | number)[];
  message: string;
  /** Where the field was: `body`, `querystring`, `params` or `headers` (HTTP only). */
  in?: string;
}

/** A failure with a stable code from the registry. */
export class JobdeckError extends Error {
  readonly code: ErrorCode;
  readonly details: FieldIssue[] | undefined;
  /** Extra data a caller may need (for RUN_FINISHED: the run as it is). */
  readonly data: unknown;

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { details?: FieldIssue[]; data?: unknown; cause?: unknown },
  ) {
    super(message ?? ERROR_CODES[code].message, { cause: options?.cause });
    this.name = 'JobdeckError';
    this.code = code;
    this.details = options?.details;
    this.data = options?.data;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** INVALID_INPUT about one field: `<field> <message>.`, with the field's path in the details. */
export function invalidField(field: string, message: string): JobdeckError {
  return new JobdeckError('INVALID_INPUT', `${field} ${message}.`, {
    details: [{ path: [field], message }],
  });
}

/** True when `err` is a Jobdeck error with that code, whatever realm it was made in. */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** The stored form of a run's error. */
export interface RunError {
  code: string;
  message: string;
}

/**
 * Turn anything a handler threw into a stored error, keeping a string `code` if it has one. Its
 * text is made storable (U+0000 and lone surrogates replaced), so no message keeps a run unfinished.
 */
export function toRunError(err: unknown, fallback: ErrorCode = 'HANDLER_ERROR'): RunError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      code: typeof code === 'string' ? storableText(code) : fallback,
      message: storableText(err.message),
    };
  }
  return {
    code: fallback,
    message: storableText(typeof err === 'string' ? err : (safeJson(err) ?? String(err))),
  };
}

/** JSON of a thrown value, or undefined when it has none (BigInt, cycles). */
function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** What a log line says about an error (a type alias, so pino's serializer type accepts it). */
export type ErrorSummary = {
  type: string;
  code?: string;
  message: string;
  stack: string;
  /** The message of the error behind it (a driver's text behind STORE_UNAVAILABLE). */
  cause?: string;
};

/**
 * An error reduced to what is safe to log: never the objects libraries attach to it (pg's pool
 * attaches its client, with host, database, prepared SQL and the backend's cancel key).
 */
export function errorSummary(err: unknown): ErrorSummary {
  if (!(err instanceof Error))
    return { type: typeof err, message: toRunError(err).message, stack: '' };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: err.message,
    stack: err.stack ?? '',
    ...(err.cause instanceof Error ? { cause: err.cause.message } : {}),
  };
}
