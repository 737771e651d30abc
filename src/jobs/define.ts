import { z } from 'zod';
import type { BackoffOptions } from '../core/backoff.js';
import { toMs, type Duration } from '../core/duration.js';
import { JobdeckError } from '../core/errors.js';
import type { JobContext } from './context.js';
import { parseSchedule, type Schedule, type ScheduleOptions } from './schedule.js';

/** Where a handler runs: `inline` (this event loop), `thread` (a worker thread) or `process` (a child). */
export type Isolation = 'inline' | 'thread' | 'process';

/** What you write to define a job. Only `name` and `run` are required. */
export interface JobOptions<Schema extends z.ZodType, Result> {
  /** Stable name; letters, digits, `.`, `_`, `-`. */
  name: string;
  /** Validates and types the input; checked when a run is created and again when it is claimed. */
  input?: Schema;
  category?: string;
  description?: string;
  /** No attempt lives longer; it is cancelled by the system and fails with TIMEOUT. */
  timeout?: Duration;
  /** A handler that reports nothing (progress, log, checkpoint, heartbeat) for this long is stuck and stopped. */
  heartbeatTimeout?: Duration;
  /** A run not started within this long of its `runAt` is cancelled with reason `expired`. */
  expireAfter?: Duration;
  /**
   * An attempt still running after this long is stuck: marked on the run (`stuckAt`), a `run.stuck`
   * event, and an alert where a rule asks. Default: the instance's (20 min); false: never.
   */
  stuckAfter?: Duration | false;
  /** Tries in all, including the first. Default 3. */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Active runs of this job at once, across all instances. Default unlimited. */
  concurrency?: number;
  /**
   * At most `max` runs of this job start in any `per` (`{ max: 100, per: '1m' }`), across all
   * instances, counted when a worker claims them. Runs over the limit wait as `pending`.
   */
  rateLimit?: { max: number; per: Duration };
  /** When false, a trigger is refused (ALREADY_RUNNING) while a run is active, and runs go one at a time. */
  allowConcurrent?: boolean;
  /** Higher runs first. Default 0. */
  priority?: number;
  /** How long finished runs are kept. Default 7 days. */
  retention?: Duration;
  /** Repeat on a schedule: `{ every: '1h' }` or `{ cron: '0 3 * * *', timezone: 'Europe/Berlin' }`. */
  schedule?: ScheduleOptions;
  /** Default state; can be changed at run time. Default true. */
  enabled?: boolean;
  /** Whether people may start it by hand (API, dashboard). Default true. */
  canTrigger?: boolean;
  /**
   * Where the handler runs: `inline` (this event loop; a forced stop aborts the signal), `thread`
   * (a worker thread, terminated if it does not stop) or `process` (a child process whose group is
   * sent SIGTERM, then SIGKILL). Default `inline`.
   */
  isolation?: Isolation;
  /**
   * The module that defines (and exports) this job, as `import.meta.url`: a thread or process
   * imports it to find the handler. Required for `thread` and `process` isolation.
   */
  module?: string;
  /** Heap limit of a `thread` isolate, in MB; exceeding it fails the attempt. */
  memoryLimitMb?: number;
  /** Log entries kept per run (the newest). Default 1000. */
  logCap?: number;
  /** How long `onCancel` cleanups (and the handler) get after a forced stop. Default 5 s. */
  forceGrace?: Duration;
  run(ctx: JobContext<z.output<Schema>>, input: z.output<Schema>): Promise<Result> | Result;
}

/** A job as the registry holds it: every option resolved. */
export interface JobDefinition<Input = unknown, Result = unknown> {
  readonly name: string;
  readonly input: z.ZodType<Input>;
  readonly category: string;
  readonly description: string;
  readonly timeoutMs: number | null;
  readonly heartbeatTimeoutMs: number | null;
  readonly expireAfterMs: number | null;
  /** null: the instance's default; false: never stuck. */
  readonly stuckAfterMs: number | false | null;
  readonly maxAttempts: number;
  readonly backoff: BackoffOptions;
  readonly concurrency: number | null;
  readonly rateLimit: RateLimit | null;
  readonly allowConcurrent: boolean;
  readonly priority: number;
  readonly retentionMs: number;
  readonly schedule: Schedule | null;
  readonly enabled: boolean;
  readonly canTrigger: boolean;
  readonly isolation: Isolation;
  readonly module: string | null;
  readonly memoryLimitMb: number | null;
  readonly logCap: number;
  readonly forceGraceMs: number;
  // Method syntax keeps definitions of any input assignable to JobDefinition (bivariant parameters).
  run(ctx: JobContext<Input>, input: Input): Promise<Result> | Result;
}

/** At most `max` starts in any window of `perMs`. */
export interface RateLimit {
  readonly max: number;
  readonly perMs: number;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SEVEN_DAYS = 7 * 24 * 3600 * 1000;

function positiveInt(value: number | undefined, field: string, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1) {
    throw new JobdeckError('INVALID_INPUT', `${field} must be a positive integer`, {
      details: [{ path: [field], message: 'must be a positive integer' }],
    });
  }
  return result;
}

/** Define a job; the input schema types the handler's input. */
export function defineJob<Schema extends z.ZodType = z.ZodUnknown, Result = unknown>(
  options: JobOptions<Schema, Result>,
): JobDefinition<z.output<Schema>, Result> {
  if (!NAME_PATTERN.test(options.name)) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `Job name ${JSON.stringify(options.name)} is not valid.`,
      {
        details: [
          { path: ['name'], message: 'letters, digits, ".", "_" and "-", up to 128 characters' },
        ],
      },
    );
  }
  const isolation = options.isolation ?? 'inline';
  if (!['inline', 'thread', 'process'].includes(isolation)) {
    throw new JobdeckError('INVALID_INPUT', `Isolation ${String(isolation)} is not known.`, {
      details: [{ path: ['isolation'], message: 'inline, thread or process' }],
    });
  }
  if (isolation !== 'inline' && !options.module) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `Job ${options.name} runs in a ${isolation} and needs module: import.meta.url.`,
      {
        details: [{ path: ['module'], message: 'required for thread and process isolation' }],
      },
    );
  }
  const optionalMs = (value: Duration | undefined, field: string) =>
    value === undefined ? null : toMs(value, field);
  return Object.freeze({
    name: options.name,
    input: (options.input ?? z.unknown()) as z.ZodType<z.output<Schema>>,
    category: options.category ?? 'default',
    description: options.description ?? '',
    timeoutMs: optionalMs(options.timeout, 'timeout'),
    heartbeatTimeoutMs: optionalMs(options.heartbeatTimeout, 'heartbeatTimeout'),
    expireAfterMs: optionalMs(options.expireAfter, 'expireAfter'),
    stuckAfterMs:
      options.stuckAfter === false ? false : optionalMs(options.stuckAfter, 'stuckAfter'),
    maxAttempts: positiveInt(options.maxAttempts, 'maxAttempts', 3),
    backoff: options.backoff ?? {},
    concurrency:
      options.concurrency === undefined ? null : positiveInt(options.concurrency, 'concurrency', 1),
    rateLimit: options.rateLimit === undefined ? null : rateLimitOf(options.rateLimit),
    allowConcurrent: options.allowConcurrent ?? true,
    priority: options.priority ?? 0,
    retentionMs:
      options.retention === undefined ? SEVEN_DAYS : toMs(options.retention, 'retention'),
    schedule: options.schedule ? parseSchedule(options.schedule) : null,
    enabled: options.enabled ?? true,
    canTrigger: options.canTrigger ?? true,
    isolation,
    module: options.module ?? null,
    memoryLimitMb: options.memoryLimitMb ?? null,
    logCap: positiveInt(options.logCap, 'logCap', 1000),
    forceGraceMs: toMs(options.forceGrace ?? 5000, 'forceGrace'),
    run: (ctx: JobContext<z.output<Schema>>, input: z.output<Schema>) => options.run(ctx, input),
  });
}

function rateLimitOf(option: { max: number; per: Duration }): RateLimit {
  const per = typeof option === 'object' && option !== null ? option.per : undefined;
  const perMs = per === undefined ? 0 : toMs(per, 'rateLimit.per');
  if (perMs < 1) {
    throw new JobdeckError('INVALID_INPUT', 'rateLimit.per must be a duration of at least 1 ms', {
      details: [{ path: ['rateLimit', 'per'], message: "a duration such as '1s' or '1m'" }],
    });
  }
  return Object.freeze({ max: positiveInt(option.max ?? Number.NaN, 'rateLimit.max', 1), perMs });
}

/** The per-job cap the claim honours: one at a time when concurrent runs are not allowed. */
export function claimConcurrency(job: JobDefinition): number | null {
  if (!job.allowConcurrent) return Math.min(job.concurrency ?? 1, 1);
  return job.concurrency;
}
