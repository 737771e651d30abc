import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AdapterConfig } from '../adapters/types.js';

const CHILD = fileURLToPath(new URL('../child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

/** A benchmark child process (bench/child.ts) with its IPC messages as a stream one can wait on. */
export class BenchChild {
  readonly process: ChildProcess;
  readonly spawnedAt = Date.now();
  private readonly messages: ChildMessage[] = [];
  private waiters: { match: (m: ChildMessage) => boolean; resolve: (m: ChildMessage) => void }[] =
    [];
  exited = false;
  stderr = '';

  constructor(args: { role: 'worker' | 'client'; config: AdapterConfig; concurrency?: number }) {
    this.process = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env },
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (this.stderr.length > 20_000) this.stderr = this.stderr.slice(-10_000);
    });
    this.process.on('message', (message: ChildMessage) => {
      const waiter = this.waiters.find((w) => w.match(message));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(message);
      } else this.messages.push(message);
    });
    this.process.on('exit', () => {
      this.exited = true;
    });
  }

  /** The next message matching `match` (already received, or to come), or null after `timeoutMs`. */
  next(match: (m: ChildMessage) => boolean, timeoutMs: number): Promise<ChildMessage | null> {
    const index = this.messages.findIndex(match);
    if (index >= 0) return Promise.resolve(this.messages.splice(index, 1)[0]!);
    return new Promise((resolve) => {
      const waiter = {
        match,
        resolve: (m: ChildMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const message = await this.next((m) => m.type === 'ready', timeoutMs);
    if (!message) {
      this.kill('SIGKILL');
      throw new Error(`child did not start within ${timeoutMs} ms: ${this.stderr.slice(-2000)}`);
    }
  }

  send(message: unknown): void {
    if (this.process.connected) this.process.send(message as never);
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.process.kill(signal);
  }

  /** Ask it to exit; SIGKILL if it has not within `ms`. */
  async close(ms = 5000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.send({ type: 'exit' });
    const timer = setTimeout(() => this.kill('SIGKILL'), ms);
    await gone;
    clearTimeout(timer);
  }
}

/** A script of bench/ in a child process of its own, started and ready. */
export interface ForkedScript<Ready> {
  /** Its first IPC message. */
  ready: Ready;
  process: ChildProcess;
  /** Ask it to exit (it exits when its IPC channel closes); SIGKILL if it has not within 5 s. */
  close: () => Promise<void>;
}

/**
 * Run `script` with tsx and one JSON argument; resolves with its first IPC message, or rejects
 * (killing it) when it exits or says nothing within `timeoutMs`.
 */
export async function forkScript<Ready>(
  script: string,
  args: unknown,
  timeoutMs = 60_000,
): Promise<ForkedScript<Ready>> {
  const child = fork(script, [JSON.stringify(args)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('message', (message: Ready) => {
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}`));
    });
  });
  return {
    ready,
    process: child,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
