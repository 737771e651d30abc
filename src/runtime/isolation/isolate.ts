import { RunCancelledError, type CancelMode } from '../../core/cancellation.js';
import { JobdeckError } from '../../core/errors.js';
import type { JobDefinition } from '../../jobs/define.js';
import { loadJobsModule } from '../../jobs/load.js';
import { buildContext, type ContextPort } from '../context.js';
import { serializeError, type FromIsolate, type ToIsolate } from './protocol.js';

export interface IsolateTransport {
  send(message: FromIsolate): void;
  onMessage(listener: (message: ToIsolate) => void): void;
  /** Leave: a process exits; a thread stays for the next run. */
  exit(): void;
}

const TOUCH_EVERY_MS = 250;

/**
 * The inside of a thread or process isolate: imports the job's module, runs the handler with a
 * `ctx` whose writes go to the parent as messages, and obeys cancels, aborts and cleanup requests.
 */
export function serveIsolate(transport: IsolateTransport): void {
  const modules = new Map<string, Promise<JobDefinition[]>>();
  let current: {
    controller: AbortController;
    cancel: { mode: CancelMode; reason: string | null } | null;
    cleanups: ((reason: RunCancelledError) => Promise<void> | void)[];
  } | null = null;
  let lastTouch = 0;

  const port = (): ContextPort => {
    const attempt = current!;
    return {
      signal: attempt.controller.signal,
      cancelState: () => attempt.cancel,
      touch: () => {
        const now = Date.now();
        if (now - lastTouch < TOUCH_EVERY_MS) return;
        lastTouch = now;
        transport.send({ type: 'touch' });
      },
      log: (level, message, data) =>
        transport.send(
          data === undefined
            ? { type: 'log', level, message }
            : { type: 'log', level, message, data },
        ),
      progress: (progress) => transport.send({ type: 'progress', progress }),
      item: (key, status, error) =>
        transport.send(
          error ? { type: 'item', key, status, error } : { type: 'item', key, status },
        ),
      onCancel: (cleanup) => attempt.cleanups.push(cleanup),
    };
  };

  const start = async (message: Extract<ToIsolate, { type: 'start' }>) => {
    current = { controller: new AbortController(), cancel: message.cancel, cleanups: [] };
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
      const ctx = buildContext(port(), message.run, message.input);
      const value: unknown = await job.run(ctx, message.input);
      send({ type: 'done', ok: true, value });
    } catch (err) {
      send({ type: 'done', ok: false, error: serializeError(err) });
    }
  };

  /** Send, and report a value that cannot cross the boundary as the handler's error. */
  const send = (message: FromIsolate) => {
    try {
      transport.send(message);
    } catch (err) {
      transport.send({
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
    switch (message.type) {
      case 'start':
        void start(message);
        return;
      case 'cancel':
        if (!current) return;
        current.cancel = { mode: message.mode, reason: message.reason };
        if (message.mode === 'force' && !current.controller.signal.aborted) {
          current.controller.abort(
            new RunCancelledError({ kind: 'cancel', mode: 'force', reason: message.reason }),
          );
        }
        return;
      case 'abort':
        if (current && !current.controller.signal.aborted) {
          current.controller.abort(
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
        const cleanups = current?.cleanups ?? [];
        const reason = new RunCancelledError({
          kind: message.kind,
          mode: message.mode,
          reason: message.reason,
        });
        void Promise.allSettled(
          cleanups.map(async (cleanup) => {
            try {
              await cleanup(reason);
            } catch (err) {
              transport.send({
                type: 'log',
                level: 'warn',
                message: 'cleanup failed',
                data: serializeError(err),
              });
            }
          }),
        ).then(() => transport.send({ type: 'cleanup-done' }));
        return;
      }
      case 'exit':
        current = null;
        transport.exit();
        return;
    }
  });
}
