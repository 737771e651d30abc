import { z } from 'zod';
import { CANCEL_MODES } from '../core/cancellation.js';
import { ERROR_CODES } from '../core/errors.js';
import { INSTANCE_ROLES, INSTANCE_STATES, type InstanceStatus } from '../core/instance.js';
import { UNSTORABLE_TEXT_MESSAGE, isStorableText } from '../core/text.js';
import {
  ATTEMPT_OUTCOMES,
  ITEM_STATUSES,
  LOG_LEVELS,
  RUN_BATCH_MAX,
  RUN_TRIGGERS,
  STEP_STATUSES,
  runAttemptHistory,
  type Run,
  type RunStep,
  type StoredLogEntry,
} from '../core/run.js';
import {
  RUN_STATUSES,
  TERMINAL_STATUSES,
  UNFINISHED_STATUSES,
  type TerminalStatus,
  type UnfinishedStatus,
} from '../core/status.js';
import {
  RUN_TOTAL_CAP,
  type CreateManyItem,
  type CreateManyResult,
  type JobView,
  type RunStatsView,
} from '../runs/service.js';
import { ALERT_DELIVERY_STATUSES, type AlertRecord } from '../store/store.js';
import { STATS_BUCKETS, type StatsBucket } from '../runs/stats-window.js';

/** The HTTP shapes: one schema per request and response part, giving validation, types and OpenAPI. */

const isoTime = z.string().describe('ISO 8601 time');
const runError = z.object({ code: z.string(), message: z.string() });

export const runSchema = z
  .object({
    id: z.string(),
    job: z.string(),
    input: z.unknown(),
    status: z.enum(RUN_STATUSES),
    progress: z
      .object({
        processed: z.number().nullable(),
        total: z.number().nullable(),
        percent: z.number().nullable(),
        message: z.string().nullable(),
      })
      .nullable(),
    items: z.array(
      z.object({ key: z.string(), status: z.enum(ITEM_STATUSES), error: runError.optional() }),
    ),
    result: z.unknown(),
    error: runError.nullable(),
    lastError: runError.nullable(),
    attempt: z.number().int(),
    maxAttempts: z.number().int(),
    priority: z.number().int(),
    runAt: isoTime,
    createdAt: isoTime,
    startedAt: isoTime.nullable().describe('when the current (or last) attempt started'),
    firstStartedAt: isoTime
      .nullable()
      .describe('when the first attempt started: the run has been under way since then'),
    finishedAt: isoTime.nullable(),
    createdBy: z.string(),
    trigger: z.enum(RUN_TRIGGERS),
    idempotencyKey: z.string().nullable(),
    workerId: z.string().nullable(),
    cancel: z
      .object({
        mode: z.enum(CANCEL_MODES),
        reason: z.string().nullable(),
        requestedBy: z.string(),
        requestedAt: isoTime,
      })
      .nullable(),
    pause: z
      .object({ requestedBy: z.string(), requestedAt: isoTime })
      .nullable()
      .describe(
        'The pause asked and not yet undone by a resume: while running, the handler stops at its next checkpoint; while paused, who paused it',
      ),
    expireAt: isoTime.nullable(),
    retryOf: z.string().nullable(),
    parentId: z
      .string()
      .nullable()
      .describe(
        'The run whose handler started this one (ctx.spawn); cancelling it cancels this one',
      ),
    stuckAt: isoTime
      .nullable()
      .describe("When the current attempt was found running past its job's stuckAfter"),
  })
  .meta({ id: 'Run' });
export type RunDto = z.output<typeof runSchema>;

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export const runAttemptSchema = z
  .object({
    attempt: z.number().int(),
    workerId: z.string().nullable(),
    startedAt: isoTime,
    endedAt: isoTime.nullable().describe('null while the attempt runs'),
    outcome: z
      .enum([...ATTEMPT_OUTCOMES, ...TERMINAL_STATUSES])
      .nullable()
      .describe(
        'failed (a retry followed), lost (its lease expired), released (its worker shut down), paused (stopped at a checkpoint after a pause), waiting (suspended until its child runs end); for the attempt that ended the run, its final status; null while it runs',
      ),
    error: runError.nullable(),
  })
  .meta({ id: 'RunAttempt' });

export const runStepSchema = z
  .object({
    name: z.string(),
    status: z.enum(STEP_STATUSES),
    attempt: z.number().int().describe('The attempt that last ran it'),
    startedAt: isoTime,
    endedAt: isoTime.nullable().describe('null while it runs'),
    error: runError.nullable(),
  })
  .meta({ id: 'RunStep' });

/** The steps GET /api/runs/:id shows at most: the newest (a run may have any number). */
export const RUN_STEPS_SHOWN = 1000;

export const runChildSchema = z
  .object({
    id: z.string(),
    job: z.string(),
    status: z.enum(RUN_STATUSES),
    createdAt: isoTime,
    finishedAt: isoTime.nullable(),
  })
  .meta({ id: 'RunChild' });

/** The children GET /api/runs/:id shows at most: the newest (a run may start any number). */
export const RUN_CHILDREN_SHOWN = 1000;

/** One run with its whole history of attempts: the answer of GET /api/runs/:id only. */
export const runDetailSchema = runSchema
  .extend({
    attempts: z
      .array(runAttemptSchema)
      .describe('Every attempt, oldest first, the latest included'),
    steps: z
      .array(runStepSchema)
      .describe(
        `The run's durable steps (ctx.step), in the order they first started (the newest ${RUN_STEPS_SHOWN}); a completed step is not run again by a later attempt`,
      ),
    earlierStepsOmitted: z
      .boolean()
      .describe(
        `True when the run has more than ${RUN_STEPS_SHOWN} steps: the oldest are left out`,
      ),
    children: z
      .array(runChildSchema)
      .describe(
        `The runs its handler started (ctx.spawn), oldest first (the newest ${RUN_CHILDREN_SHOWN}); GET /api/runs?parentId= lists them all`,
      ),
    earlierChildrenOmitted: z
      .boolean()
      .describe(
        `True when the run has more than ${RUN_CHILDREN_SHOWN} children: the oldest are left out`,
      ),
  })
  .meta({ id: 'RunDetail' });
export type RunDetailDto = z.output<typeof runDetailSchema>;

/** A run as lists, events and actions carry it: without the history of attempts. */
export function runDto(run: Run): RunDto {
  return {
    id: run.id,
    job: run.job,
    input: run.input,
    status: run.status,
    progress: run.progress,
    items: run.items,
    result: run.result ?? null,
    error: run.error,
    lastError: run.lastError,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    priority: run.priority,
    runAt: run.runAt.toISOString(),
    createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt),
    firstStartedAt: iso(run.firstStartedAt),
    finishedAt: iso(run.finishedAt),
    createdBy: run.createdBy,
    trigger: run.trigger,
    idempotencyKey: run.idempotencyKey,
    workerId: run.workerId,
    cancel: run.cancel
      ? { ...run.cancel, requestedAt: run.cancel.requestedAt.toISOString() }
      : null,
    pause: run.pause
      ? { requestedBy: run.pause.requestedBy, requestedAt: run.pause.requestedAt.toISOString() }
      : null,
    expireAt: iso(run.expireAt),
    retryOf: run.retryOf,
    parentId: run.parentId,
    stuckAt: iso(run.stuckAt),
  };
}

/**
 * `steps` and `children`: the newest, oldest first, one more than RUN_STEPS_SHOWN or
 * RUN_CHILDREN_SHOWN when there are more (that first one is left out).
 */
export function runDetailDto(run: Run, steps: RunStep[], children: Run[]): RunDetailDto {
  const shownSteps = newestShown(steps, RUN_STEPS_SHOWN);
  const shownChildren = newestShown(children, RUN_CHILDREN_SHOWN);
  return {
    ...runDto(run),
    earlierStepsOmitted: shownSteps.omitted,
    children: shownChildren.shown.map(childDto),
    earlierChildrenOmitted: shownChildren.omitted,
    attempts: runAttemptHistory(run).map((entry) => ({
      ...entry,
      startedAt: entry.startedAt.toISOString(),
      endedAt: iso(entry.endedAt),
    })),
    steps: shownSteps.shown.map(stepDto),
  };
}

/** The newest `most` of a list read with one more than that (oldest first), and whether one was left out. */
function newestShown<T>(list: T[], most: number): { shown: T[]; omitted: boolean } {
  const omitted = list.length > most;
  return { shown: omitted ? list.slice(-most) : list, omitted };
}

/** A child run as its parent's detail lists it. */
export function childDto(run: Run): z.output<typeof runChildSchema> {
  return {
    id: run.id,
    job: run.job,
    status: run.status,
    createdAt: run.createdAt.toISOString(),
    finishedAt: iso(run.finishedAt),
  };
}

/** A step on the wire: its times as ISO text. */
export function stepDto(step: RunStep) {
  return {
    name: step.name,
    status: step.status,
    attempt: step.attempt,
    startedAt: step.startedAt.toISOString(),
    endedAt: iso(step.endedAt),
    error: step.error,
  };
}

export const logSchema = z
  .object({
    seq: z.number().int(),
    level: z.enum(LOG_LEVELS),
    message: z.string(),
    data: z.unknown().optional(),
    time: isoTime,
  })
  .meta({ id: 'LogEntry' });

export function logDto(entry: StoredLogEntry): z.output<typeof logSchema> {
  return {
    seq: entry.seq,
    level: entry.level,
    message: entry.message,
    ...(entry.data === undefined ? {} : { data: entry.data }),
    time: entry.time.toISOString(),
  };
}

export const jobSchema = z
  .object({
    name: z.string(),
    category: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    schedule: z
      .union([
        z.object({ kind: z.literal('every'), everyMs: z.number() }),
        z.object({ kind: z.literal('cron'), cron: z.string(), timezone: z.string().nullable() }),
      ])
      .nullable(),
    canTrigger: z.boolean(),
    allowConcurrent: z.boolean(),
    concurrency: z.number().nullable(),
    rateLimit: z
      .object({ max: z.number().int(), perMs: z.number().int() })
      .nullable()
      .describe('At most max starts in any perMs, across instances; null when unlimited'),
    maxAttempts: z.number(),
    timeoutMs: z.number().nullable(),
    isolation: z.string(),
    inputSchema: z.unknown().describe('JSON Schema of the input'),
  })
  .meta({ id: 'Job' });

export function jobDto(view: JobView): z.output<typeof jobSchema> {
  const job = view.definition;
  let inputSchema: unknown;
  try {
    inputSchema = z.toJSONSchema(job.input, { io: 'input', unrepresentable: 'any' });
  } catch {
    inputSchema = {};
  }
  return {
    name: job.name,
    category: job.category,
    description: job.description,
    enabled: view.enabled,
    schedule: job.schedule?.description ?? null,
    canTrigger: job.canTrigger,
    allowConcurrent: job.allowConcurrent,
    concurrency: job.concurrency,
    rateLimit: job.rateLimit && { max: job.rateLimit.max, perMs: job.rateLimit.perMs },
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    isolation: job.isolation,
    inputSchema,
  };
}

export const workerSchema = z
  .object({
    id: z.string().describe('The id its worker claims runs with: their workerId'),
    host: z.string(),
    pid: z.number().int(),
    version: z.string().describe('The Jobdeck version it runs'),
    role: z.enum(INSTANCE_ROLES),
    concurrency: z.number().int().nullable().describe('Runs at once; null for an api instance'),
    heartbeatMs: z.number().int().describe('How often it beats'),
    startedAt: isoTime,
    lastSeenAt: isoTime.describe("Its last beat, on the store's clock"),
    state: z.enum(INSTANCE_STATES).describe('lost: no beat for 3 of its heartbeats'),
    runs: z
      .array(
        z.object({
          id: z.string(),
          job: z.string(),
          attempt: z.number().int(),
          status: z.enum(['running', 'cancelling']),
          startedAt: isoTime.nullable(),
        }),
      )
      .describe('The runs it executes now'),
  })
  .meta({ id: 'Worker' });
export type WorkerDto = z.output<typeof workerSchema>;

export function workerDto(instance: InstanceStatus): WorkerDto {
  const { startedAt, lastSeenAt, runs, ...fields } = instance;
  return {
    ...fields,
    startedAt: startedAt.toISOString(),
    lastSeenAt: lastSeenAt.toISOString(),
    runs: runs.map((run) => ({ ...run, startedAt: iso(run.startedAt) })),
  };
}

const errorCode = z.enum(
  Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]],
);
const fieldIssues = z.array(
  z.object({
    path: z.array(z.union([z.string(), z.number()])),
    message: z.string(),
    in: z.string().optional(),
  }),
);

export const errorSchema = z
  .object({
    error: errorCode,
    message: z.string(),
    details: fieldIssues.optional(),
    requestId: z.string(),
    run: runSchema.optional().describe('The run as it is, with RUN_FINISHED'),
  })
  .meta({ id: 'Error' });

/** An error answer of a route: the Error body, with what the status means there (`CODE: when`). */
export function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: errorSchema } } };
}

/** Bounds on what callers send, so no input can grow without limit. */
export const LIMITS = {
  reason: 1000,
  idempotencyKey: 200,
  jobName: 128,
  principal: 128,
  bulkIds: 1000,
  batchRuns: RUN_BATCH_MAX,
  pageSize: 500,
  /** The longest path parameter the router takes (job names are up to 128). */
  pathParam: 256,
} as const;

/** A string the stores can hold on every backend (see core/text.ts). */
const text = (max: number) =>
  z.string().max(max).refine(isStorableText, { message: UNSTORABLE_TEXT_MESSAGE });

const runId = z
  .string()
  .uuid('expected a UUID (32 hex digits and 4 dashes)')
  .describe('Run id (UUIDv7)');
export const runIdParams = z.object({ id: runId });
export const jobNameParams = z.object({ name: text(LIMITS.jobName).min(1) });

export const createRunBody = z
  .object({
    input: z.unknown().optional(),
    runAt: z.iso.datetime({ offset: true }).optional(),
    priority: z.number().int().min(-1000).max(1000).optional(),
    idempotencyKey: text(LIMITS.idempotencyKey).min(1).optional(),
  })
  .strict();

/** A create's body as the run service takes it: times as dates, absent fields left out. */
export function createParamsOf(body: z.output<typeof createRunBody>): Omit<CreateManyItem, 'job'> {
  const { input, runAt, priority, idempotencyKey } = body;
  return {
    input,
    ...(runAt ? { runAt: new Date(runAt) } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}

/** One run of POST /api/runs/batch: the body of a single create, with its job. */
export const batchRunItem = createRunBody
  .extend({ job: text(LIMITS.jobName).min(1) })
  .strict()
  .meta({ id: 'RunBatchItem' });
export type BatchRunItem = z.output<typeof batchRunItem>;

/**
 * The body of POST /api/runs/batch. Each run is checked on its own (a bad one is that run's error,
 * not the request's), so the array lets anything through; the document shows what each should be.
 */
export const createRunsBody = z
  .object({
    runs: z
      .array(
        z.union([
          batchRunItem,
          z.unknown().describe('anything else is refused in its own result, not the request'),
        ]),
      )
      .min(1)
      .max(LIMITS.batchRuns)
      .describe(`1 to ${LIMITS.batchRuns} runs`),
  })
  .strict();

/** The answer for one run of a batch: the run, or why it was refused (an Error body without requestId). */
export const batchResultSchema = z
  .union([
    z.object({ run: runSchema, created: z.boolean() }),
    z.object({ error: errorCode, message: z.string(), details: fieldIssues.optional() }),
  ])
  .meta({ id: 'RunBatchResult' });
export type BatchResultDto = z.output<typeof batchResultSchema>;

export function batchResultDto(result: CreateManyResult): BatchResultDto {
  if ('run' in result) return { run: runDto(result.run), created: result.created };
  const { code, message, details } = result.error;
  return { error: code, message, ...(details ? { details } : {}) };
}

export const patchJobBody = z.object({ enabled: z.boolean() }).strict();

export const cancelBody = z
  .object({
    mode: z.enum(CANCEL_MODES).default('graceful'),
    reason: text(LIMITS.reason).optional(),
  })
  .strict();

const statusList = z
  .string()
  .max(200)
  .transform((value, ctx) => {
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    // An empty filter would match nothing (a stream that never sends): say so instead.
    if (list.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'give one or more statuses, comma-separated' });
      return z.NEVER;
    }
    for (const status of list) {
      if (!(RUN_STATUSES as readonly string[]).includes(status)) {
        ctx.addIssue({ code: 'custom', message: `unknown status ${JSON.stringify(status)}` });
        return z.NEVER;
      }
    }
    return list as (typeof RUN_STATUSES)[number][];
  });

export const bulkCancelBody = z
  .object({
    ids: z.array(runId).min(1).max(LIMITS.bulkIds).optional(),
    job: text(LIMITS.jobName).min(1).optional(),
    status: z.array(z.enum(RUN_STATUSES)).min(1).optional(),
    mode: z.enum(CANCEL_MODES).default('graceful'),
    reason: text(LIMITS.reason).optional(),
  })
  .strict()
  .refine((body) => body.ids || body.job || body.status, {
    message: 'give ids, job or status',
    path: ['ids'],
  });

/** A time in a query string: ISO 8601 with a zone (`Z` or an offset). */
const queryTime = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .describe('ISO 8601 time with a zone, e.g. 2030-01-01T00:00:00Z');

export const listRunsQuery = z.object({
  status: statusList.optional(),
  job: text(LIMITS.jobName).min(1).optional(),
  createdBy: text(LIMITS.principal).min(1).optional(),
  from: queryTime.optional().describe('created at or after'),
  to: queryTime.optional().describe('created before'),
  q: z
    .string()
    .regex(/^[0-9a-fA-F-]{1,36}$/, 'a run id or the start of one: hex digits and dashes')
    .optional()
    .describe('a run id or the start of one'),
  parentId: runId.optional().describe('only the children of this run (ctx.spawn)'),
  total: z
    .stringbool()
    .default(false)
    .describe(`also count the matching runs: exact up to ${RUN_TOTAL_CAP}, else capped`),
  limit: z.coerce.number().int().min(1).max(LIMITS.pageSize).default(50),
  cursor: z.string().max(200).optional(),
});

export const statsQuery = z.object({
  from: queryTime.optional().describe('start of the window; default: 24 h before `to`'),
  to: queryTime.optional().describe('end of the window; default: now'),
  bucket: z.enum(Object.keys(STATS_BUCKETS) as [StatsBucket, ...StatsBucket[]]).default('1h'),
});

const percentilesSchema = z
  .object({ p50: z.number(), p95: z.number() })
  .nullable()
  .describe('milliseconds, nearest-rank; null when no run counts');

export const statsSchema = z
  .object({
    from: isoTime,
    to: isoTime,
    bucket: z.enum(Object.keys(STATS_BUCKETS) as [StatsBucket, ...StatsBucket[]]),
    bucketMs: z.number().int(),
    buckets: z.array(
      z.object({
        start: isoTime,
        job: z.string(),
        created: z.number().int(),
        started: z.number().int(),
        ended: z.object(
          Object.fromEntries(TERMINAL_STATUSES.map((status) => [status, z.number().int()])) as {
            [S in TerminalStatus]: z.ZodNumber;
          },
        ),
        durationMs: percentilesSchema,
        queueWaitMs: percentilesSchema,
      }),
    ),
    now: z.object({
      at: isoTime,
      unfinished: z.object(
        Object.fromEntries(UNFINISHED_STATUSES.map((status) => [status, z.number().int()])) as {
          [S in UnfinishedStatus]: z.ZodNumber;
        },
      ),
      oldestPending: z
        .object({ runId: z.string(), job: z.string(), dueAt: isoTime, ageMs: z.number() })
        .nullable(),
    }),
  })
  .meta({ id: 'RunStats' });
export type StatsDto = z.output<typeof statsSchema>;

export function statsDto(view: RunStatsView): StatsDto {
  const pending = view.now.oldestPending;
  return {
    from: view.from.toISOString(),
    to: view.to.toISOString(),
    bucket: view.bucket,
    bucketMs: view.bucketMs,
    buckets: view.buckets.map((bucket) => ({ ...bucket, start: bucket.start.toISOString() })),
    now: {
      at: view.now.at.toISOString(),
      unfinished: view.now.unfinished,
      oldestPending: pending ? { ...pending, dueAt: pending.dueAt.toISOString() } : null,
    },
  };
}

export const logsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

export const eventsQuery = z.object({
  job: text(LIMITS.jobName).min(1).optional(),
  run: runId.optional(),
  /** Events of runs in these statuses (as each event recorded it); job events have none. */
  status: statusList.optional(),
});

export const alertsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(LIMITS.pageSize).default(50),
  before: z.string().uuid().optional().describe('alerts older than this alert id (the next page)'),
});

export const alertSchema = z
  .object({
    id: z.string(),
    rule: z.string(),
    event: z
      .string()
      .describe('run.failed, run.partial, run.cancelled, run.stuck, run.retrying or queue.backlog'),
    job: z.string(),
    runId: z.string().nullable(),
    severity: z.string(),
    message: z.string(),
    link: z.string().nullable().describe("The run's dashboard page"),
    createdAt: isoTime,
    state: z
      .enum(['suppressed', 'pending', 'failed', 'delivered'])
      .describe(
        'suppressed: within the cooldown of its rule and job, not sent; failed: a delivery was given up',
      ),
    deliveries: z.array(
      z.object({
        channel: z.string(),
        status: z.enum(ALERT_DELIVERY_STATUSES),
        nextAttemptAt: isoTime.nullable(),
        finishedAt: isoTime.nullable(),
        attempts: z.array(
          z.object({
            at: isoTime,
            ok: z.boolean(),
            durationMs: z.number(),
            status: z.number().int().optional().describe("The receiver's HTTP status"),
            error: z.string().optional(),
          }),
        ),
      }),
    ),
  })
  .meta({ id: 'Alert' });
export type AlertDto = z.output<typeof alertSchema>;

export function alertDto(
  alert: AlertRecord & { state: AlertDto['state']; link: string | null },
): AlertDto {
  return {
    id: alert.id,
    rule: alert.rule,
    event: alert.event,
    job: alert.job,
    runId: alert.runId,
    severity: alert.severity,
    message: alert.message,
    link: alert.link,
    createdAt: alert.createdAt.toISOString(),
    state: alert.state,
    deliveries: alert.deliveries.map((delivery) => ({
      channel: delivery.channel,
      status: delivery.status,
      nextAttemptAt: iso(delivery.nextAttemptAt),
      finishedAt: iso(delivery.finishedAt),
      attempts: delivery.attempts.map((attempt) => ({ ...attempt, at: attempt.at.toISOString() })),
    })),
  };
}

export const alertTestBody = z
  .object({
    channel: text(100).min(1).describe('A channel of the alerts file'),
    message: text(1000).min(1).optional(),
  })
  .strict();

export const alertTestSchema = z
  .object({
    channel: z.string(),
    type: z.enum(['webhook', 'slack', 'telegram']),
    delivered: z.boolean(),
    status: z.number().int().nullable().describe("The receiver's HTTP status, if it answered"),
    error: z.string().nullable(),
    durationMs: z.number(),
  })
  .meta({ id: 'AlertTest' });
export type AlertTestDto = z.output<typeof alertTestSchema>;

/** Cursors are opaque to callers: the id of the last run of the page, encoded. */
export function encodeCursor(id: string | null): string | null {
  return id === null ? null : Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : null;
}
