import { JobdeckError, toRunError, type RunError } from '../core/errors.js';
import { unstorableJsonReason } from '../core/json.js';
import { storableText } from '../core/text.js';
import { RunCancelledError, type CancelMode } from '../core/cancellation.js';
import { ChildRunError, type ChildRun } from '../core/children.js';
import { isTerminal, type RunStatus } from '../core/status.js';
import {
  normaliseProgress,
  type ItemStatus,
  type LogLevel,
  type RunProgress,
} from '../core/run.js';
import type { ForEachSummary, JobContext, RunLogger } from '../jobs/context.js';
import type { ChildSpec } from '../runs/service.js';

/**
 * What a handler's `ctx` needs from where it runs. The inline runtime implements it directly on
 * the attempt; thread and process isolates implement it with messages to the parent. The `ctx`
 * logic itself (checkpoints, steps, fan-out) lives once, in {@link buildContext}.
 */
export interface ContextPort {
  readonly signal: AbortSignal;
  /** The stop asked of this attempt so far, if any. */
  cancelState(): { mode: CancelMode; reason: string | null } | null;
  /** The pause asked of this attempt, if any: checkpoints throw, as after a graceful cancel. */
  pauseState(): { requestedBy: string } | null;
  touch(): void;
  log(level: LogLevel, message: string, data?: unknown): void;
  progress(progress: RunProgress): void;
  item(key: string, status: ItemStatus, error?: RunError): void;
  onCancel(cleanup: (reason: RunCancelledError) => Promise<void> | void): void;
  /** The stored result of a step an earlier attempt of the run completed, if one did. */
  completedStep(name: string): Promise<{ result: unknown } | null>;
  /** The keys (as stored) of the forEach items earlier attempts of the run completed. */
  succeededItems(): Promise<ReadonlySet<string>>;
  /** A step starts (recorded in the background). */
  stepStarted(name: string): void;
  /** A step ended: resolves once a completed step's result is stored (a failure is not awaited). */
  stepEnded(name: string, outcome: StepOutcome): Promise<void>;
  /** Start a child of this run, or find the one an earlier attempt started with the same key. */
  spawnChild(spec: ChildSpec): Promise<ChildRun>;
  /** How these children of the run stand, in the order asked; INVALID_INPUT for any other run. */
  childEnds(ids: readonly string[]): Promise<ChildEnd[]>;
  /** The handler suspends the attempt until these children end: its end is then `waiting`. */
  awaitChildren(ids: readonly string[]): Promise<void>;
}

/** A child run as `ctx.waitFor` reads it. */
export interface ChildEnd {
  id: string;
  job: string;
  status: RunStatus;
  result: unknown;
  error: RunError | null;
}

export type StepOutcome = { ok: true; result: unknown } | { ok: false; error: RunError };

/** The largest step result kept (its JSON text): results are for what later steps need, not files. */
export const STEP_RESULT_MAX_BYTES = 1024 * 1024;
/** The longest step name: a name is a key, and every backend indexes it whatever its text. */
export const STEP_NAME_MAX_LENGTH = 200;
/** The longest child key: it goes into the child's idempotency key, which every backend indexes. */
export const CHILD_KEY_MAX_LENGTH = 200;

/** What a run suspended for its children says (its log line, the reason of the wait). */
export function waitingReason(children: number): string {
  return `waiting for ${children} child run${children === 1 ? '' : 's'}`;
}

export interface RunInfo {
  id: string;
  job: string;
  attempt: number;
  maxAttempts: number;
}

/**
 * A step's result as it is stored and returned, the same on the first run and on a replay: its
 * JSON form (`undefined` becomes null, a Date its ISO text). Not JSON, or too large: the step fails.
 */
function storedStepResult(name: string, value: unknown): unknown {
  if (value === undefined) return null;
  const unstorable = unstorableJsonReason(value, `The result of step "${name}"`);
  if (unstorable) throw new JobdeckError('RESULT_NOT_STORABLE', unstorable);
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) return null;
  if (Buffer.byteLength(text) > STEP_RESULT_MAX_BYTES)
    throw new JobdeckError(
      'RESULT_NOT_STORABLE',
      `The result of step "${name}" is ${Buffer.byteLength(text)} bytes of JSON, more than the ${STEP_RESULT_MAX_BYTES} kept: store large data elsewhere and return its address.`,
    );
  return JSON.parse(text) as unknown;
}

/** The handler's `ctx`, over a port. */
export function buildContext<Input>(
  port: ContextPort,
  run: RunInfo,
  input: Input,
): JobContext<Input> {
  const items = new Map<string, ItemStatus>();
  const stepNames = new Set<string>();
  const setItem = (key: string, status: ItemStatus, error?: RunError) => {
    items.set(key, status);
    port.item(key, status, error);
  };
  const checkpoint = () => {
    port.touch();
    if (port.signal.aborted) throw port.signal.reason;
    const cancel = port.cancelState();
    if (cancel)
      throw new RunCancelledError({ kind: 'cancel', mode: cancel.mode, reason: cancel.reason });
    const pause = port.pauseState();
    if (pause)
      throw new RunCancelledError({
        kind: 'pause',
        mode: 'graceful',
        reason: `paused by ${pause.requestedBy}`,
      });
  };
  /** The child keys this attempt used, and how many children of each job it spawned. */
  const childKeys = new Set<string>();
  const spawnsOfJob = new Map<string, number>();
  const spawn = async (
    job: string,
    input?: unknown,
    options: { key?: string; priority?: number; runAt?: Date } = {},
  ): Promise<ChildRun> => {
    if (typeof job !== 'string' || job === '')
      throw new JobdeckError('INVALID_INPUT', 'spawn needs the name of the job to start.');
    // The default key is the same on every replay: the n-th spawn of the job in call order.
    const n = (spawnsOfJob.get(job) ?? 0) + 1;
    spawnsOfJob.set(job, n);
    const key = options.key ?? `${job}#${n}`;
    if (typeof key !== 'string' || key === '' || key.length > CHILD_KEY_MAX_LENGTH)
      throw new JobdeckError(
        'INVALID_INPUT',
        `A child key needs 1 to ${CHILD_KEY_MAX_LENGTH} characters${typeof key === 'string' && key !== '' ? `, not ${key.length}` : ''}.`,
      );
    if (childKeys.has(key))
      throw new JobdeckError(
        'INVALID_INPUT',
        `The child key "${key}" was already used in this attempt: each child needs a key of its own.`,
      );
    childKeys.add(key);
    checkpoint();
    return port.spawnChild({
      job,
      input,
      key,
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.runAt !== undefined ? { runAt: options.runAt } : {}),
    });
  };

  /**
   * The results of these children once all completed; a ChildRunError for the first that ended
   * otherwise; else the attempt suspends until they end (a new attempt replays the handler).
   */
  const waitForAll = async (children: readonly (ChildRun | string)[]): Promise<unknown[]> => {
    checkpoint();
    const ids = children.map((child) => {
      const id = typeof child === 'string' ? child : (child as Partial<ChildRun> | null)?.id;
      if (typeof id !== 'string' || id === '')
        throw new JobdeckError(
          'INVALID_INPUT',
          'waitFor takes child runs (from spawn) or their ids.',
        );
      return id;
    });
    if (ids.length === 0) return [];
    const ends = new Map((await port.childEnds([...new Set(ids)])).map((end) => [end.id, end]));
    const endOf = (id: string) => ends.get(id)!;
    const failed = ids.find((id) => {
      const { status } = endOf(id);
      return isTerminal(status) && status !== 'completed';
    });
    if (failed) throw new ChildRunError(endOf(failed));
    const unfinished = [...ends.values()].filter((end) => !isTerminal(end.status));
    if (unfinished.length === 0) return ids.map((id) => endOf(id).result);
    await port.awaitChildren(unfinished.map((end) => end.id));
    throw new RunCancelledError({
      kind: 'wait',
      mode: 'graceful',
      reason: waitingReason(unfinished.length),
    });
  };

  const stopping = () =>
    port.signal.aborted || port.cancelState() !== null || port.pauseState() !== null;

  const forEach = async <T>(
    source: Iterable<T>,
    fn: (item: T, info: { index: number; key: string; signal: AbortSignal }) => unknown,
    options: { concurrency?: number; key?: (item: T, index: number) => string } = {},
  ): Promise<ForEachSummary> => {
    const list = [...source];
    const keys = list.map((item, index) =>
      options.key ? options.key(item, index) : String(index),
    );
    if (new Set(keys).size !== keys.length)
      throw new JobdeckError('INVALID_INPUT', 'forEach item keys must be unique.');
    // Items an earlier attempt completed are done: not run again, not written again.
    const done = await port.succeededItems();
    for (const key of keys) {
      if (done.has(storableText(key))) items.set(key, 'succeeded');
      else if (!items.has(key)) setItem(key, 'pending');
    }
    const todo = keys.flatMap((key, index) => (done.has(storableText(key)) ? [] : [index]));
    let next = 0;
    const lane = async () => {
      while (next < todo.length && !stopping()) {
        const index = todo[next++]!;
        const key = keys[index]!;
        port.touch();
        setItem(key, 'running');
        try {
          await fn(list[index]!, { index, key, signal: port.signal });
          setItem(key, 'succeeded');
        } catch (err) {
          if (port.signal.aborted) setItem(key, 'cancelled');
          else setItem(key, 'failed', toRunError(err));
        }
      }
    };
    const lanes = Math.max(1, Math.min(options.concurrency ?? 1, todo.length));
    await Promise.all(Array.from({ length: lanes }, lane));
    for (const key of keys) if (items.get(key) === 'pending') setItem(key, 'cancelled');
    checkpoint();
    const summary: ForEachSummary = { succeeded: 0, failed: 0, cancelled: 0, statuses: {} };
    for (const key of keys) {
      const status = items.get(key)!;
      summary.statuses[key] = status;
      if (status === 'succeeded') summary.succeeded++;
      else if (status === 'failed') summary.failed++;
      else if (status === 'cancelled') summary.cancelled++;
    }
    return summary;
  };

  const logAt = (level: LogLevel) => (message: string, data?: unknown) => {
    port.touch();
    port.log(level, message, data);
  };
  const log: RunLogger = {
    debug: logAt('debug'),
    info: logAt('info'),
    warn: logAt('warn'),
    error: logAt('error'),
  };

  const ctx: JobContext<Input> = {
    run: { ...run, input },
    signal: port.signal,
    cancelRequested: false,
    checkpoint,
    step: async <T>(name: string, fn: (signal: AbortSignal) => Promise<T> | T): Promise<T> => {
      if (typeof name !== 'string' || name === '' || name.length > STEP_NAME_MAX_LENGTH)
        throw new JobdeckError(
          'INVALID_INPUT',
          `A step needs a name of 1 to ${STEP_NAME_MAX_LENGTH} characters${typeof name === 'string' && name !== '' ? `, not ${name.length}` : ''}.`,
        );
      if (stepNames.has(name))
        throw new JobdeckError(
          'STEP_NAME_REUSED',
          `The step name "${name}" was already used in this run: each step needs a name of its own.`,
        );
      stepNames.add(name);
      const done = await port.completedStep(name);
      if (done) return done.result as T;
      checkpoint();
      port.stepStarted(name);
      let result: unknown;
      try {
        result = storedStepResult(name, await fn(port.signal));
      } catch (err) {
        // Recorded on the way out; the handler's error is what matters.
        port.stepEnded(name, { ok: false, error: toRunError(err) }).catch(() => {});
        throw err;
      }
      await port.stepEnded(name, { ok: true, result });
      return result as T;
    },
    forEach,
    spawn,
    waitFor: async (child) => (await waitForAll([child]))[0],
    waitForAll,
    progress: (update) => {
      port.touch();
      port.progress(normaliseProgress(update));
    },
    log,
    onCancel: (cleanup) => port.onCancel(cleanup),
    heartbeat: () => port.touch(),
  };
  Object.defineProperty(ctx, 'cancelRequested', {
    get: () => port.cancelState() !== null,
    enumerable: true,
  });
  return ctx;
}
