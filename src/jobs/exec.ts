import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Duration } from '../core/duration.js';
import { killGroup, signalGroup } from '../runtime/isolation/hosts.js';
import { defineJob, type JobDefinition } from './define.js';

/** The built-in `exec` job: which commands it may run. */
export interface ExecJobOptions {
  /** Commands that may run: a bare name (`sleep`) allows it from PATH; a path allows that file only. */
  allow: string[];
  /** Default `exec`. */
  name?: string;
  /** What a graceful stop sends to the command's process group. Default SIGINT. */
  gracefulSignal?: NodeJS.Signals;
  /** Longest output line kept in the logs (longer ones are cut). Default 4,096 characters. */
  maxLineLength?: number;
  /** Environment variables every command gets besides PATH, HOME, LANG and TZ. */
  env?: Record<string, string>;
  maxAttempts?: number;
  retention?: Duration;
}

/** Variables the parent passes on to commands; nothing else of Jobdeck's environment (tokens least of all). */
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

/**
 * The built-in `exec` job: runs an allowed command with an argument array (never a shell), streams
 * its output lines into the run's logs, sends the graceful signal on a graceful stop, and SIGTERM
 * then SIGKILL to its whole process group on a forced one or a timeout.
 */
export function defineExecJob(options: ExecJobOptions): JobDefinition {
  const allowed = new Set(options.allow);
  const gracefulSignal = options.gracefulSignal ?? 'SIGINT';
  const maxLine = options.maxLineLength ?? 4096;
  const input = z
    .object({
      command: z
        .string()
        .min(1)
        .max(4096)
        .refine((command) => allowed.has(command), {
          message: 'this command is not on the allow-list',
        }),
      args: z.array(z.string().max(65_536)).max(1000).default([]),
      cwd: z.string().max(4096).optional(),
      env: z
        .record(
          z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
            .refine((key) => !key.startsWith('JOBDECK_'), 'JOBDECK_ variables are not passed'),
          z.string().max(65_536),
        )
        .default({}),
      timeoutMs: z
        .number()
        .int()
        .positive()
        .max(7 * 24 * 3600 * 1000)
        .optional(),
    })
    .strict();

  return defineJob({
    name: options.name ?? 'exec',
    category: 'system',
    description: `Runs an allowed command (${[...allowed].map((c) => basename(c)).join(', ') || 'none allowed'}) and streams its output.`,
    input,
    maxAttempts: options.maxAttempts ?? 1,
    ...(options.retention ? { retention: options.retention } : {}),
    async run(ctx, { command, args, cwd, env, timeoutMs }) {
      const baseEnv: Record<string, string> = {};
      for (const key of PASSED_ENV)
        if (process.env[key] !== undefined) baseEnv[key] = process.env[key];
      const child = spawn(command, args, {
        ...(cwd ? { cwd } : {}),
        env: { ...baseEnv, ...options.env, ...env },
        detached: true,
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve, reject) => {
          child.once('error', reject);
          child.once('close', (code, signal) => resolve({ code, signal }));
        },
      );
      const gone = exited.then(
        () => undefined,
        () => undefined,
      );
      ctx.log.info('command started', { command, args, pid: child.pid });
      for (const [stream, level] of [
        [child.stdout, 'info'],
        [child.stderr, 'warn'],
      ] as const) {
        createInterface({ input: stream }).on('line', (line) => {
          ctx.log[level](line.length > maxLine ? `${line.slice(0, maxLine)}…` : line, {
            stream: level === 'info' ? 'stdout' : 'stderr',
          });
        });
      }

      // Forced stop, timeout or shutdown: the whole group goes, even if it ignores SIGTERM.
      const stop = () => void killGroup(child, gone);
      ctx.signal.addEventListener('abort', stop, { once: true });
      ctx.onCancel(() => killGroup(child, gone));
      // A graceful stop is passed on once, as the configured signal.
      let asked = false;
      const watch = setInterval(() => {
        ctx.heartbeat();
        if (ctx.cancelRequested && !asked) {
          asked = true;
          ctx.log.info(`sending ${gracefulSignal} to the command`);
          signalGroup(child, gracefulSignal);
        }
      }, 100);
      // Once the command ended on a stop, what it left in its group (a background job that
      // ignores SIGINT, say) goes too: it would hold the output pipes open and the run with them.
      child.once('exit', () => {
        if (asked || ctx.signal.aborted) signalGroup(child, 'SIGKILL');
      });
      let timedOut = false;
      const deadline = timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, timeoutMs)
        : null;
      try {
        const { code, signal } = await exited;
        ctx.log.info('command exited', { code, signal });
        // A command that exits 0 after the graceful signal reached it was stopped, not done.
        if (code === 0 && !asked) return { exitCode: 0 };
        if (ctx.cancelRequested || ctx.signal.aborted) ctx.checkpoint();
        if (timedOut) {
          throw Object.assign(
            new Error(`${command} ran longer than its timeoutMs (${timeoutMs} ms)`),
            {
              code: 'TIMEOUT',
            },
          );
        }
        throw Object.assign(
          new Error(
            signal ? `${command} ended on ${signal}` : `${command} exited with code ${code}`,
          ),
          {
            code: 'EXEC_EXIT',
          },
        );
      } finally {
        clearInterval(watch);
        if (deadline) clearTimeout(deadline);
        ctx.signal.removeEventListener('abort', stop);
        // Nothing the command started outlives the run.
        signalGroup(child, 'SIGKILL');
      }
    },
  });
}
