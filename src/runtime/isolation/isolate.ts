import { RunCancelledError, type CancelMode } from '../../core/cancellation.js';
import { JobdeckError } from '../../core/errors.js';
import type { JobDefinition } from '../../jobs/define.js';
import { loadJobsModule } from '../../jobs/load.js';
import { buildContext, type ContextPort } from '../context.js';
import {
  deserializeError,
  isForAttempt,
  serializeError,
  type AttemptTag,
  type FromIsolate,
  type ToIsolate,
  type Untagged,
} from './protocol.js';

export interface IsolateTransport {
  send(message: FromIsolate): void;
  onMessage(listener: (message: ToIsolate) => void): void;
  /** Leave: a process exits; a thread stays for the next run. */
  exit(): void;
}

const TOUCH_EVERY_MS = 250;

/** One attempt served by the isolate; its `ctx` keeps writing under its own tag, even once over. */
interface Served {
  tag: AttemptTag;
  controller: AbortController;
  cancel: { mode: CancelMode; reason: string | null } | null;
  pause: { requestedBy: string } | null;
  cleanups: ((reason: RunCancelledError) => Promise<void> | void)[];
  lastTouch: number;
  /** Step and child requests waiting for the parent's answer, by their seq. */
  replies: Map<number, (reply: Reply) => void>;
  requestSeq: number;
  /** Its handler settled: the parent answers nothing more for it. */
  over: boolean;
}

type StepReply = Extract<ToIsolate, { type: 'step-reply' }>;
type ChildReply = Extract<ToIsolate, { type: 'child-reply' }>;
type Reply = StepReply | ChildReply;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What the isolate asks of the parent and waits for. */
type Request = DistributiveOmit<Extract<Untagged<FromIsolate>, { type: 'step' | 'child' }>, 'seq'>;

/**
 * The inside of a thread or process isolate: imports the job's module, runs the handler with a
 * `ctx` whose writes go to the parent as messages, and obeys cancels, aborts and cleanup requests.
 */
export function serveIsolate(transport: IsolateTransport): void {
  const modules = new Map<string, Promise<JobDefinition[]>>();
  let current: Served | null = null;

  const sendFor = (attempt: Served, message: Untagged<FromIsolate>) =>
    transport.send({ ...message, ...attempt.tag });

  const port = (attempt: Served): ContextPort => ({
    signal: attempt.controller.signal,
    cancelState: () => attempt.cancel,
    pauseState: () => attempt.pause,
    touch: () => {
      const now = Date.now();
      if (now - attempt.lastTouch < TOUCH_EVERY_MS) return;
      attempt.lastTouch = now;
      sendFor(attempt, { type: 'touch' });
    },
    log: (level, message, data) =>
      sendFor(
        attempt,
        data === undefined
          ? { type: 'log', level, message }
          : { type: 'log', level, message, data },
      ),
    progress: (progress) => sendFor(attempt, { type: 'progress', progress }),
    item: (key, status, error) =>
      sendFor(
        attempt,
        error ? { type: 'item', key, status, error } : { type: 'item', key, status },
      ),
    onCancel: (cleanup) => attempt.cleanups.push(cleanup),
    completedStep: async (name) => {
      const reply = await request(attempt, { type: 'step', op: 'lookup', name });
      return reply.found ? { result: reply.result ?? null } : null;
    },
    succeededItems: async () => {
      const reply = await request(attempt, { type: 'step', op: 'items' });
      return new Set(reply.keys ?? []);
    },
    stepStarted: (name) => sendFor(attempt, { type: 'step', seq: 0, op: 'start', name }),
    stepEnded: async (name, outcome) => {
      if (!outcome.ok) return sendFor(attempt, { type: 'step', seq: 0, op: 'end', name, outcome });
      await request(attempt, { type: 'step', op: 'end', name, outcome });
    },
    spawnChild: async ({ runAt, ...spec }) => {
      const reply = await request<ChildReply>(attempt, {
        type: 'child',
        op: 'spawn',
        spec: runAt ? { ...spec, runAt: runAt.toISOString() } : spec,
      });
      return reply.child!;
    },
    childEnds: async (ids) => {
      const reply = await request<ChildReply>(attempt, {
        type: 'child',
        op: 'ends',
        ids: [...ids],
      });
      return reply.ends ?? [];
    },
    awaitChildren: async (ids) => {
      await request(attempt, { type: 'child', op: 'await', ids: [...ids] });
    },
  });

  /** Ask the parent about a step or child runs and wait for its answer (or its error). */
  const request = <R extends Reply = StepReply>(attempt: Served, message: Request): Promise<R> => {
    // A ctx used after its attempt (a handler's leftover work in a reused thread) gets no answer.
    if (attempt.over) return Promise.reject(attemptOver());
    const seq = ++attempt.requestSeq;
    return new Promise((resolve, reject) => {
      attempt.replies.set(seq, (reply) =>
        reply.error ? reject(deserializeError(reply.error)) : resolve(reply as R),
      );
      sendFor(attempt, { ...message, seq });
    });
  };

  const start = async (message: Extract<ToIsolate, { type: 'start' }>) => {
    const attempt: Served = {
      tag: { runId: message.runId, attempt: message.attempt },
      controller: new AbortController(),
      cancel: message.cancel,
      pause: message.pause,
      cleanups: [],
      lastTouch: 0,
      replies: new Map(),
      requestSeq: 0,
      over: false,
    };
    current = attempt;
    try {
      let loading = modules.get(message.moduleUrl);
      if (!loading) {
        loading = loadJobsModule(message.moduleUrl);
        modules.set(message.moduleUrl, loading);
      }
      const job = (await loading).find((j) => j.name === message.job);
      if (!job)
        throw new JobdeckError(
          'JOB_NOT_FOUND',
          `${message.moduleUrl} exports no job named ${message.job}.`,
        );
      const ctx = buildContext(port(attempt), message.run, message.input);
      const value: unknown = await job.run(ctx, message.input);
      sendResult(attempt, { type: 'done', ok: true, value });
    } catch (err) {
      sendResult(attempt, { type: 'done', ok: false, error: serializeError(err) });
    }
  };

  /** Send, and report a value that cannot cross the boundary as the handler's error. */
  const sendResult = (attempt: Served, message: Untagged<FromIsolate>) => {
    attempt.over = true;
    // Requests still waiting would wait forever: the parent no longer serves this attempt.
    for (const answer of attempt.replies.values())
      answer({ type: 'step-reply', seq: 0, error: serializeError(attemptOver()), ...attempt.tag });
    attempt.replies.clear();
    try {
      sendFor(attempt, message);
    } catch (err) {
      sendFor(attempt, {
        type: 'done',
        ok: false,
        error: {
          name: 'Error',
          code: 'HANDLER_ERROR',
          message: `The result cannot be sent: ${(err as Error).message}`,
        },
      });
    }
  };

  transport.onMessage((message) => {
    if (message.type === 'start') {
      void start(message);
      return;
    }
    // Only the attempt being served is steered; anything else is late and ignored.
    const attempt = current;
    if (!attempt || !isForAttempt(message, attempt.tag)) return;
    switch (message.type) {
      case 'step-reply':
      case 'child-reply': {
        const answer = attempt.replies.get(message.seq);
        attempt.replies.delete(message.seq);
        answer?.(message);
        return;
      }
      case 'cancel':
        attempt.cancel = { mode: message.mode, reason: message.reason };
        if (message.mode === 'force' && !attempt.controller.signal.aborted) {
          attempt.controller.abort(
            new RunCancelledError({ kind: 'cancel', mode: 'force', reason: message.reason }),
          );
        }
        return;
      case 'pause':
        attempt.pause = { requestedBy: message.requestedBy };
        return;
      case 'abort':
        if (!attempt.controller.signal.aborted) {
          attempt.controller.abort(
            new RunCancelledError({
              kind: message.kind,
              mode: 'force',
              reason: message.reason,
              code: message.code,
            }),
          );
        }
        return;
      case 'cleanup': {
        const reason = new RunCancelledError({
          kind: message.kind,
          mode: message.mode,
          reason: message.reason,
        });
        void Promise.allSettled(
          attempt.cleanups.map(async (cleanup) => {
            try {
              await cleanup(reason);
            } catch (err) {
              sendFor(attempt, {
                type: 'log',
                level: 'warn',
                message: 'cleanup failed',
                data: serializeError(err),
              });
            }
          }),
        ).then(() => sendFor(attempt, { type: 'cleanup-done' }));
        return;
      }
      case 'exit':
        current = null;
        transport.exit();
        return;
    }
  });
}

function attemptOver(): JobdeckError {
  return new JobdeckError('LEASE_LOST', 'The attempt is over.');
}
