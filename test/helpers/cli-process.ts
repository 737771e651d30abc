/**
 * The built command line as child processes, for test/cli.test.ts and test/start.test.ts.
 * Children run `node bin/jobdeck.js …` (or `node scripts/start.mjs`) against `dist/`, which
 * `npm test` builds first. Each child is its own process group, so a cleanup also ends what it
 * started (`scripts/start.mjs` starts the server as a grandchild).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { EVENT_DEADLINE_MS, pollUntil } from './poll.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'jobdeck.js');
export const START_SCRIPT = join(ROOT, 'scripts', 'start.mjs');
const ENTRY = join(ROOT, 'dist', 'cli', 'main.js');

/** Starting node with fastify and better-sqlite3 can be slow on a loaded machine. */
export const START_TIMEOUT = EVENT_DEADLINE_MS;

/** Fail with a clear message when the CLI has not been built. */
export function requireBuild(): void {
  if (!existsSync(ENTRY)) {
    throw new Error(
      `${ENTRY} is missing: these tests run the built command line; run \`npm run build\` first (\`npm test\` does).`,
    );
  }
}

/** This process's environment without any JOBDECK_* variable, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith('JOBDECK_')) env[key] = value;
  return { ...env, ...extra };
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process and everything it printed. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  /** When stdout first received something (ms since epoch). */
  firstStdoutAt: number | null = null;
  exit: Exit | null = null;

  constructor(
    readonly args: string[],
    options: { env: NodeJS.ProcessEnv; cwd?: string; mergeStderr?: boolean },
  ) {
    // With mergeStderr, stderr goes into the stdout pipe (a shell's `2>&1`, then exec): `stdout`
    // holds both in the order they were written, as a terminal shows them.
    const [command, argv] = options.mergeStderr
      ? ['/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, ...args]]
      : [process.execPath, args];
    this.child = spawn(command, argv, {
      cwd: options.cwd ?? ROOT,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.firstStdoutAt ??= Date.now();
      this.stdout += chunk;
    });
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // 'close' comes after the exit and after stdout and stderr are read to the end.
    this.child.once('close', (code, signal) => {
      this.exit = { code, signal };
    });
  }

  /** All it printed, stdout then stderr. */
  output(): string {
    return this.stdout + this.stderr;
  }

  private describe(): string {
    return `\`${this.args.join(' ')}\` (exit ${JSON.stringify(this.exit)}); stdout: ${this.stdout}; stderr: ${this.stderr}`;
  }

  /** The first match of `pattern` in stdout; fails if the process ends first or time runs out. */
  async waitForStdout(pattern: RegExp, timeoutMs = START_TIMEOUT): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await pollUntil(
      () => {
        match = pattern.exec(this.stdout);
        if (match) return true;
        if (this.exit) throw new Error(`ended before printing ${pattern}: ${this.describe()}`);
        return false;
      },
      { timeoutMs, what: `${pattern} from ${this.describe()}` },
    );
    return match!;
  }

  /** Wait for the process to end and its output to be read. */
  waitForExit(timeoutMs = 15_000): Promise<Exit> {
    return pollUntil(() => this.exit ?? undefined, {
      timeoutMs,
      what: `the end of ${this.describe()}`,
    });
  }

  /** Send `signal` to the process itself (not its group) and wait for the end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<Exit> {
    if (!this.exit) this.child.kill(signal);
    return this.waitForExit(timeoutMs);
  }

  /** Send `signal` to the whole process group, as a terminal's Ctrl-C does. */
  signalGroup(signal: NodeJS.Signals): void {
    if (this.exit || this.child.pid === undefined) return;
    process.kill(-this.child.pid, signal);
  }

  /** SIGKILL the process group, if anything of it may still run. */
  killGroup(): void {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The children a test (or a file) started, all killed by `killAll` in afterEach/afterAll. */
export class Children {
  private readonly started: CliProcess[] = [];

  /** `node bin/jobdeck.js <args>` (or `node <script> <args>` with `script`), left running. */
  start(
    args: string[],
    options: { env: NodeJS.ProcessEnv; cwd?: string; script?: string; mergeStderr?: boolean },
  ): CliProcess {
    const child = new CliProcess([options.script ?? BIN, ...args], options);
    this.started.push(child);
    return child;
  }

  /** `node bin/jobdeck.js <args>` to its end. */
  async run(
    args: string[],
    options: { env: NodeJS.ProcessEnv; timeoutMs?: number },
  ): Promise<CliProcess & { exit: Exit }> {
    const child = this.start(args, options);
    await child.waitForExit(options.timeoutMs);
    return child as CliProcess & { exit: Exit };
  }

  killAll(): void {
    for (const child of this.started.splice(0)) child.killGroup();
  }
}
