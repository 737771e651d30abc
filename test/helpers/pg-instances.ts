/**
 * Jobdeck instances as real OS processes against one PostgreSQL, for the `*.postgres.test.ts`
 * files that start several of them (multiprocess, crash, outage, scheduler):
 *
 * - `cliInstance`: the real command line, `node --import tsx bin/jobdeck.js serve|worker …`, which
 *   runs the built `dist/` (`npm test` builds it first) and loads a `.ts` `--jobs` module through tsx;
 * - `scriptWorker`: test/helpers/worker-process.ts, a worker whose lease, heartbeat, polls and
 *   rescuer interval are all short, and which can trace its store writes (`--trace`).
 *
 * Every instance is tracked by an `InstanceSet`, whose `killAll` (called from afterEach/afterAll)
 * SIGKILLs whatever is still alive — also when the test failed. Nothing here sleeps to synchronise:
 * callers wait on printed lines, on HTTP answers or on the store, always with a deadline.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';

export const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'jobdeck.js');
const WORKER_SCRIPT = 'test/helpers/worker-process.ts';
/** The ledger jobs as a `--jobs` module (ledger file and worker name from the environment). */
export const LEDGER_JOBS_MODULE = 'test/helpers/ledger-jobs-module.ts';
// The same checks and helpers as the CLI tests use.
import { START_TIMEOUT, cleanEnv, freePort, requireBuild, type Exit } from './cli-process.js';
export { START_TIMEOUT, cleanEnv as childEnv, freePort, requireBuild, type Exit };

/** A `--db` URL for one schema of the server at `base`; `notify: false` turns LISTEN/NOTIFY off. */
export function schemaUrl(
  base: string,
  schema: string,
  options: { notify?: boolean } = {},
): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  if (options.notify === false) url.searchParams.set('notify', 'false');
  return url.toString();
}

/** Drop a test schema with a short-lived connection. */
export async function dropSchema(base: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: base, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** One child process and everything it printed. */
export class Instance {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  readonly startedAt = Date.now();
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.notify();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /**
   * The first stdout line (from index `from` on) matching `pattern`; rejects when the process
   * exits first or time runs out.
   */
  waitForLine(pattern: RegExp, timeoutMs = START_TIMEOUT, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const match = pattern.exec(this.lines[i]!);
          if (match) {
            done();
            resolve(match);
            return;
          }
        }
        if (this.exit) {
          done();
          reject(
            new Error(
              `${this.name} exited (${JSON.stringify(this.exit)}) before printing ${pattern}; stdout: ${this.lines.slice(-20).join(' | ')}; stderr: ${this.stderr.slice(-2000)}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${this.name} printed no ${pattern} within ${timeoutMs} ms; stdout: ${this.lines.slice(-20).join(' | ')}; stderr: ${this.stderr.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Whether the worker still runs an attempt of the run (a worker-process.ts child answers on stdin). */
  async holds(runId: string, timeoutMs = 5000): Promise<boolean> {
    const from = this.lines.length;
    this.child.stdin.write(`holds? ${runId}\n`);
    const escaped = runId.replace(/[^\w-]/g, '\\$&');
    const [, answer] = await this.waitForLine(
      new RegExp(`^holds ${escaped} (yes|no)$`),
      timeoutMs,
      from,
    );
    return answer === 'yes';
  }

  /** Send a signal without waiting (SIGSTOP, SIGCONT…). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Send `signal` and wait for the exit (SIGKILL after `timeoutMs` if it does not come). */
  async kill(signal: NodeJS.Signals, timeoutMs = 15_000): Promise<Exit> {
    if (this.exit) return this.exit;
    // A stopped process must run again to handle anything but SIGKILL.
    if (signal !== 'SIGKILL') this.child.kill('SIGCONT');
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const result = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (result !== 'late') return result;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Pino JSON lines (stderr or stdout) at level `error` (50) or above: errors the loops survived. */
  errorLogs(): string[] {
    return [...this.lines, ...this.stderr.split('\n')].filter((line) => {
      if (!line.startsWith('{')) return false;
      try {
        return (JSON.parse(line) as { level?: number }).level! >= 50;
      } catch {
        return false;
      }
    });
  }
}

/** Every instance a test started, so that a cleanup can end them all, even after a failure. */
export class InstanceSet {
  readonly all: Instance[] = [];

  /** The real CLI: `node --import tsx bin/jobdeck.js <args…>`. */
  cli(name: string, args: string[], env: Record<string, string> = {}): Instance {
    requireBuild();
    return this.track(new Instance(name, ['--import', 'tsx', BIN, ...args], cleanEnv(env)));
  }

  /** test/helpers/worker-process.ts with the given arguments (`--worker-id` is `name`). */
  scriptWorker(name: string, args: string[]): Instance {
    return this.track(
      new Instance(
        name,
        ['--import', 'tsx', WORKER_SCRIPT, '--worker-id', name, ...args],
        cleanEnv(),
      ),
    );
  }

  private track(instance: Instance): Instance {
    this.all.push(instance);
    return instance;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((instance) => instance.kill('SIGKILL')));
  }
}

/** Wait for a `worker` CLI instance's start line; its worker id. */
export async function workerReady(instance: Instance): Promise<string> {
  const [, id] = await instance.waitForLine(/^Jobdeck worker (\S+) runs \d+ jobs on /);
  return id!;
}

/** Wait for a `serve` CLI instance's banner. */
export async function serveReady(instance: Instance): Promise<void> {
  await instance.waitForLine(/^Jobdeck is serving \d+ jobs? on /);
}

/** Wait for a worker-process.ts instance's `ready` line. */
export async function scriptWorkerReady(instance: Instance): Promise<Instance> {
  await instance.waitForLine(new RegExp(`^ready ${instance.name} ${instance.pid}$`));
  return instance;
}

/** An HTTP answer with how long it took. */
export interface Answer {
  status: number;
  // Parsed JSON answers are read field by field in the tests, as in test/helpers/server.ts.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  ms: number;
}

/** A small JSON client for one instance's API, with a deadline per request. */
export class Api {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  request(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<Answer> {
    return this.send(method, path, {
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs,
    });
  }

  /** A request with a body sent as given (malformed JSON, another content type…). */
  async send(
    method: string,
    path: string,
    options: { body?: string; contentType?: string; timeoutMs?: number } = {},
  ): Promise<Answer> {
    const { body, contentType = 'application/json', timeoutMs = 10_000 } = options;
    const started = Date.now();
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed, ms: Date.now() - started };
  }

  get(path: string, timeoutMs?: number): Promise<Answer> {
    return this.request('GET', path, undefined, timeoutMs);
  }

  post(path: string, body: unknown, timeoutMs?: number): Promise<Answer> {
    return this.request('POST', path, body, timeoutMs);
  }
}

/**
 * The local ports of the TCP sockets process `pid` holds, from /proc (root may read any process's
 * fds). PostgreSQL sees them as `pg_stat_activity.client_port`, so they tell one instance's
 * connections from those of every other process on the same server.
 */
export function tcpPortsOf(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // The fd closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const path = `/proc/${pid}/net/${table}`;
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9]!)) continue;
      ports.push(parseInt(fields[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** Median and 95th percentile (nearest rank) of some figures. */
export function medianP95(values: number[]): { median: number; p95: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, p95: rank(0.95), max: sorted[sorted.length - 1]! };
}
