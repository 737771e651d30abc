import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Worker as Thread } from 'node:worker_threads';
import type { CancelRecord, RunCancelledError } from '../../core/cancellation.js';
import type { JobDefinition } from '../../jobs/define.js';
import type { Attempt } from '../attempt.js';
import { inheritedExecArgv, isolateEntry } from './entry.js';
import {
  deserializeError,
  serializeError,
  isForAttempt,
  type AttemptTag,
  type FromIsolate,
  type ToIsolate,
  type Untagged,
} from './protocol.js';

export type Settled =
  | { ok: true; value: unknown }
  | { ok: false; error: unknown }
  | { ok: 'pending' };

/**
 * Where a handler runs, seen from the executor. Inline runs it on this event loop; thread and
 * process hosts run it in an isolate they can terminate when it does not stop.
 */
export interface HandlerHost {
  /** Start the handler; resolves once it settled (or its isolate died). */
  run(input: unknown): Promise<Settled>;
  /** Run the onCancel cleanups; resolves when they are done or the deadline passed. */
  cleanups(reason: RunCancelledError, deadlineMs: number): Promise<void>;
  /** The handler did not stop in time: stop it by force, where the isolation can. */
  terminate(): Promise<void>;
  /** The attempt is over: give the isolate back or let it go. */
  release(): Promise<void>;
}

/** Inline: the handler shares this event loop; a forced stop can only abort its signal. */
export class InlineHost implements HandlerHost {
  constructor(private readonly attempt: Attempt) {}

  async run(input: unknown): Promise<Settled> {
    try {
      return { ok: true, value: await this.attempt.job.run(this.attempt.context(input), input) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  cleanups(reason: RunCancelledError, deadlineMs: number): Promise<void> {
    return this.attempt.runCleanups(reason, deadlineMs);
  }

  async terminate(): Promise<void> {
    // Code that never yields cannot be interrupted from its own event loop; its writes are fenced.
  }

  async release(): Promise<void> {}
}

/** The parts of an isolate both kinds share: the message protocol with the attempt. */
abstract class IsolateHost implements HandlerHost {
  protected settled: Settled = { ok: 'pending' };
  private settle: ((settled: Settled) => void) | null = null;
  private cleanupDone: (() => void) | null = null;
  private readonly unhook: (() => void)[] = [];
  /** The isolate wrote for another run or attempt: what ran there before has not let go of it. */
  protected strayWrites = false;
  protected readonly tag: AttemptTag;

  constructor(protected readonly attempt: Attempt) {
    this.tag = { runId: attempt.run.id, attempt: attempt.run.attempt };
  }

  protected abstract postTagged(message: ToIsolate): void;
  protected abstract startIsolate(): void;

  /** Send to the isolate, tagged with this attempt. */
  protected post(message: Untagged<ToIsolate>): void {
    this.postTagged({ ...message, ...this.tag });
  }

  run(input: unknown): Promise<Settled> {
    const { attempt } = this;
    const promise = new Promise<Settled>((resolve) => {
      this.settle = resolve;
    });
    this.startIsolate();
    this.post({
      type: 'start',
      moduleUrl: attempt.job.module!,
      job: attempt.job.name,
      run: {
        id: attempt.run.id,
        job: attempt.run.job,
        attempt: attempt.run.attempt,
        maxAttempts: attempt.run.maxAttempts,
      },
      input,
      cancel: attempt.cancelState(),
      pause: attempt.pauseState(),
    });
    // Cancels, pauses and aborts of the attempt are forwarded as they happen.
    this.unhook.push(
      attempt.onCancelDelivered((record: CancelRecord) =>
        this.post({ type: 'cancel', mode: record.mode, reason: record.reason }),
      ),
      attempt.onPauseDelivered((record) =>
        this.post({ type: 'pause', requestedBy: record.requestedBy }),
      ),
    );
    const onAbort = () => {
      const reason = attempt.abortReason;
      if (!reason || reason.kind === 'cancel') return; // a delivered force cancel was forwarded above
      if (reason.kind === 'lease-lost')
        this.post({ type: 'abort', kind: 'shutdown', reason: 'lease lost', code: 'CANCELLED' });
      else
        this.post({
          type: 'abort',
          kind: reason.kind,
          reason: reason.reason,
          code:
            reason.code === 'HEARTBEAT_TIMEOUT'
              ? 'HEARTBEAT_TIMEOUT'
              : reason.code === 'TIMEOUT'
                ? 'TIMEOUT'
                : 'CANCELLED',
        });
    };
    attempt.signal.addEventListener('abort', onAbort, { once: true });
    this.unhook.push(() => attempt.signal.removeEventListener('abort', onAbort));
    return promise;
  }

  /** A message from the isolate. */
  protected receive(message: FromIsolate): void {
    const { attempt } = this;
    // Late writes of an earlier run in this isolate are not this run's: dropped, never delivered.
    if (!isForAttempt(message, this.tag)) {
      this.strayWrites = true;
      return;
    }
    switch (message.type) {
      case 'log':
        attempt.log(message.level, message.message, message.data);
        return;
      case 'progress':
        attempt.progress(message.progress);
        return;
      case 'item':
        attempt.item(message.key, message.status, message.error);
        return;
      case 'touch':
        attempt.touch();
        return;
      case 'step':
        void this.step(message);
        return;
      case 'child':
        void this.childRequest(message);
        return;
      case 'done':
        this.finish(
          message.ok
            ? { ok: true, value: message.value }
            : { ok: false, error: deserializeError(message.error) },
        );
        return;
      case 'cleanup-done':
        this.cleanupDone?.();
        return;
    }
  }

  /** A durable step of the isolate's handler, done by the attempt here; answered when asked. */
  private async step(message: Extract<FromIsolate, { type: 'step' }>): Promise<void> {
    const { attempt } = this;
    try {
      if (message.op === 'end') {
        await attempt.stepEnded(message.name, message.outcome);
        if (message.seq > 0) this.post({ type: 'step-reply', seq: message.seq });
      } else if (message.op === 'items') {
        const keys = [...(await attempt.succeededItems())];
        this.post({ type: 'step-reply', seq: message.seq, keys });
      } else if (message.op === 'lookup') {
        const done = await attempt.completedStep(message.name);
        this.post({
          type: 'step-reply',
          seq: message.seq,
          found: done !== null,
          result: done?.result,
        });
      } else attempt.stepStarted(message.name);
    } catch (err) {
      if (message.seq > 0)
        this.post({ type: 'step-reply', seq: message.seq, error: serializeError(err) });
    }
  }

  /** Child runs of the isolate's handler, started and read by the attempt here; always answered. */
  private async childRequest(message: Extract<FromIsolate, { type: 'child' }>): Promise<void> {
    const { attempt } = this;
    try {
      if (message.op === 'spawn') {
        const { runAt, ...spec } = message.spec;
        const child = await attempt.spawnChild(
          runAt === undefined ? spec : { ...spec, runAt: new Date(runAt) },
        );
        this.post({ type: 'child-reply', seq: message.seq, child });
      } else if (message.op === 'ends') {
        const ends = await attempt.childEnds(message.ids);
        this.post({ type: 'child-reply', seq: message.seq, ends });
      } else {
        await attempt.awaitChildren(message.ids);
        this.post({ type: 'child-reply', seq: message.seq });
      }
    } catch (err) {
      this.post({ type: 'child-reply', seq: message.seq, error: serializeError(err) });
    }
  }

  /** The handler settled, or the isolate died (the first of them counts). */
  protected finish(settled: Settled): void {
    if (this.settled.ok !== 'pending') return;
    this.settled = settled;
    this.settle?.(settled);
  }

  protected died(code: string, message: string): void {
    this.finish({ ok: false, error: Object.assign(new Error(message), { code }) });
    this.cleanupDone?.();
  }

  async cleanups(reason: RunCancelledError, deadlineMs: number): Promise<void> {
    const done = new Promise<'done'>((resolve) => {
      this.cleanupDone = () => resolve('done');
    });
    this.post({ type: 'cleanup', kind: reason.kind, mode: reason.mode, reason: reason.reason });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), deadlineMs);
    });
    const result = await Promise.race([done, late]);
    clearTimeout(timer);
    if (result === 'late')
      this.attempt.systemLog('warn', 'cleanup cut at its deadline', { deadlineMs });
  }

  protected unhookAll(): void {
    for (const off of this.unhook.splice(0)) off();
  }

  abstract terminate(): Promise<void>;
  abstract release(): Promise<void>;
}

/** Threads kept warm per job, so a run does not pay for starting one. */
export class ThreadPool {
  private readonly idle = new Map<string, Thread[]>();

  take(job: JobDefinition): Thread {
    const thread = this.idle.get(job.name)?.pop();
    if (thread) return thread.removeAllListeners('error').removeAllListeners('exit');
    const entry = isolateEntry('thread-entry');
    // From TypeScript sources a thread cannot take --import hooks: it registers tsx itself first
    // (tsx as Jobdeck resolves it: the thread's working folder need not have it).
    const script =
      entry.execArgv.length === 0
        ? entry.url
        : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.url.href)}); })`;
    return new Thread(script, {
      eval: typeof script === 'string',
      execArgv: inheritedExecArgv([]),
      ...(job.memoryLimitMb
        ? { resourceLimits: { maxOldGenerationSizeMb: job.memoryLimitMb } }
        : {}),
      stdout: false,
      stderr: false,
    });
  }

  /** Keep a healthy thread for the next run of the job, up to `keep` idle ones. */
  give(job: JobDefinition, thread: Thread, keep: number): void {
    const list = this.idle.get(job.name) ?? [];
    if (list.length >= keep) {
      void thread.terminate();
      return;
    }
    thread.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
    // An idle thread can still fail (a timer an earlier run left): it leaves the pool, not the process.
    const leave = () => {
      const at = list.indexOf(thread);
      if (at >= 0) list.splice(at, 1);
      void thread.terminate();
    };
    thread.on('error', leave).on('exit', leave);
    thread.unref();
    list.push(thread);
    this.idle.set(job.name, list);
  }

  get idleCount(): number {
    return [...this.idle.values()].reduce((n, list) => n + list.length, 0);
  }

  async close(): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(all.map((thread) => thread.terminate()));
  }
}

/** `thread` isolation: a worker thread from the pool; terminated when it does not stop. */
export class ThreadHost extends IsolateHost {
  private thread: Thread | null = null;
  private dead = false;

  constructor(
    attempt: Attempt,
    private readonly pool: ThreadPool,
    private readonly keepIdle: number,
  ) {
    super(attempt);
  }

  protected startIsolate(): void {
    const thread = this.pool.take(this.attempt.job);
    this.thread = thread;
    thread.ref();
    thread.on('message', (message: FromIsolate) => this.receive(message));
    thread.on('error', (err: Error & { code?: string }) => {
      this.dead = true;
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY')
        this.died('ISOLATE_OUT_OF_MEMORY', `The thread ran out of memory: ${err.message}`);
      else this.died('ISOLATE_CRASHED', `The thread crashed: ${err.message}`);
    });
    thread.on('exit', (code) => {
      this.dead = true;
      this.died(
        'ISOLATE_EXITED',
        `The thread exited with code ${code} before the handler settled.`,
      );
    });
  }

  protected postTagged(message: ToIsolate): void {
    if (!this.dead) this.thread?.postMessage(message);
  }

  async terminate(): Promise<void> {
    if (!this.thread || this.dead) return;
    this.dead = true;
    await this.thread.terminate();
  }

  async release(): Promise<void> {
    this.unhookAll();
    const thread = this.thread;
    this.thread = null;
    if (!thread || this.dead) return;
    // A thread whose handler was stopped, has not settled, or wrote for another run may still run
    // code of that run: it is not trusted with the next one.
    if (
      this.attempt.abortReason ||
      this.attempt.cancelRequested ||
      this.attempt.pauseRequested ||
      this.settled.ok === 'pending' ||
      this.strayWrites
    ) {
      this.dead = true;
      await thread.terminate();
      return;
    }
    this.pool.give(this.attempt.job, thread, this.keepIdle);
  }
}

/** How long a child gets between SIGTERM and SIGKILL. */
const KILL_AFTER_MS = 1000;
/** Longest output line kept in the run's logs. */
const MAX_LINE = 4096;

/** `process` isolation: a child process in a group of its own; SIGTERM, then SIGKILL, to the whole group. */
export class ProcessHost extends IsolateHost {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  protected startIsolate(): void {
    const entry = isolateEntry('process-entry');
    const child = fork(entry.url, [], {
      execArgv: inheritedExecArgv(entry.execArgv),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: handlerEnv(),
      serialization: 'json',
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message) => this.receive(message as FromIsolate));
    child.on('error', (err) => this.died('ISOLATE_CRASHED', `The process failed: ${err.message}`));
    child.on('exit', (code, signal) =>
      this.died(
        'ISOLATE_EXITED',
        `The process exited${signal ? ` on ${signal}` : ` with code ${code}`} before the handler settled.`,
      ),
    );
    for (const [stream, level] of [
      [child.stdout, 'info'],
      [child.stderr, 'warn'],
    ] as const) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) =>
        this.attempt.log(level, line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line, {
          stream: level === 'info' ? 'stdout' : 'stderr',
        }),
      );
    }
  }

  protected postTagged(message: ToIsolate): void {
    const child = this.child;
    if (child?.connected) child.send(message, (err) => err && undefined);
  }

  async terminate(): Promise<void> {
    await killGroup(this.child, this.exited);
  }

  async release(): Promise<void> {
    this.unhookAll();
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      this.post({ type: 'exit' });
      const gone = await Promise.race([
        this.exited.then(() => true),
        delay(KILL_AFTER_MS).then(() => false),
      ]);
      if (!gone) await killGroup(child, this.exited);
    }
    // Whatever the handler started in its group goes too.
    signalGroup(child, 'SIGKILL');
    this.child = null;
  }
}

/** SIGTERM to the child's group, SIGKILL after a second if it is still there. */
export async function killGroup(child: ChildProcess | null, exited: Promise<void>): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    signalGroup(child, 'SIGKILL');
    return;
  }
  signalGroup(child, 'SIGTERM');
  const gone = await Promise.race([
    exited.then(() => true),
    delay(KILL_AFTER_MS).then(() => false),
  ]);
  if (!gone) {
    signalGroup(child, 'SIGKILL');
    await exited;
  }
  signalGroup(child, 'SIGKILL');
}

export function signalGroup(child: ChildProcess | null, signal: NodeJS.Signals): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The environment a handler process gets: the parent's, without Jobdeck's secrets. */
export function handlerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^JOBDECK_(TOKENS?|TOKENS_FILE)$/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}
