/**
 * The built command line end to end: `jobdeck serve --demo` as a child process on a temp SQLite
 * file and a port of its own choosing, driven by the client commands as child processes
 * configured by JOBDECK_URL and JOBDECK_TOKEN; then `migrate` and `worker`. Waits are on HTTP or
 * on child output, always with a deadline.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ClientEvent, JobdeckClient, LogInfo } from '../src/client/client.js';
import { printLogs } from '../src/cli/logs.js';
import { watchRun } from '../src/cli/watch.js';
import { EXIT_CODES } from '../src/cli/output.js';
import {
  BIN,
  Children,
  ROOT,
  cleanEnv,
  freePort,
  requireBuild,
  START_TIMEOUT,
  type CliProcess,
} from './helpers/cli-process.js';
import { deferred } from './helpers/deck.js';
import { pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/temp.js';

const OPERATOR_TOKEN = 'cli-operator-token-5f2a9c71';
const ADMIN_TOKEN = 'cli-admin-token-8d41e7b3';
const TOKENS_ENV = `ops:operator:${OPERATOR_TOKEN},root:admin:${ADMIN_TOKEN}`;
const DEMO_JOBS = ['demo.batches', 'demo.cache_warming', 'demo.fanout', 'demo.nodes', 'demo.steps'];

const serverChildren = new Children();
const children = new Children();
const temp = tempDir('jobdeck-cli-test-');
let server: CliProcess;
let url: string;

/** The client commands' environment: the server and a token (the operator's unless given). */
function clientEnv(token: string | null = OPERATOR_TOKEN): NodeJS.ProcessEnv {
  return cleanEnv({ JOBDECK_URL: url, ...(token === null ? {} : { JOBDECK_TOKEN: token }) });
}

function jobdeck(args: string[], token?: string | null) {
  return children.run(args, { env: clientEnv(token) });
}

/** A run as the API answers it (read over HTTP, not through the CLI under test). */
async function getRun(id: string): Promise<{ status: string; finishedAt: string | null }> {
  const response = await fetch(`${url}/api/runs/${id}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { run: { status: string; finishedAt: string | null } }).run;
}

function waitForStatus(id: string, status: string) {
  return pollUntil(async () => (await getRun(id)).status === status, {
    timeoutMs: START_TIMEOUT,
    what: `run ${id} to be ${status}`,
  });
}

async function cancelOverHttp(id: string): Promise<void> {
  const response = await fetch(`${url}/api/runs/${id}/cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ mode: 'force' }),
  });
  expect(response.status).toBe(200);
}

async function trigger(input: unknown): Promise<string> {
  const result = await jobdeck([
    'trigger',
    'demo.steps',
    '--input',
    JSON.stringify(input),
    '--json',
  ]);
  expect(result.exit, result.stderr).toEqual({ code: 0, signal: null });
  const { run, created } = JSON.parse(result.stdout);
  expect(created).toBe(true);
  expect(run).toMatchObject({ job: 'demo.steps', input, createdBy: 'ops' });
  return run.id as string;
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

/** A client for the commands driven in process: `follow` plays the stream a test scripts. */
function scriptedClient(parts: {
  run: () => Promise<unknown>;
  logs?: (id: string, after: number) => Promise<LogInfo[]>;
  follow: (onEvent: (event: ClientEvent) => void, onOpen: () => void) => Promise<void>;
}): JobdeckClient {
  return {
    ...parts,
    follow: (
      _filter: unknown,
      onEvent: (event: ClientEvent) => void,
      options: { onOpen: () => void },
    ) => parts.follow(onEvent, options.onOpen),
  } as unknown as JobdeckClient;
}

/** What `work` wrote to stdout, in this process (the commands driven in process). */
async function captureStdout(work: () => Promise<unknown>): Promise<string> {
  let printed = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed += String(chunk);
    return true;
  });
  try {
    await work();
  } finally {
    write.mockRestore();
  }
  return printed;
}

const RECORDER = join(ROOT, 'test', 'fixtures', 'record-modules.mjs');

/**
 * What a client command may load: the command line's own modules, the client, the pure core,
 * two leaf values (the version, the stats bucket sizes) and three small packages. Not
 * cli-progress, which watch loads only for a terminal, and nothing of the server.
 */
const CLIENT_MODULES =
  /^(node:.*|file:\/\/.*\/(bin\/jobdeck\.js|dist\/(cli|client|core)\/[\w-]+\.js|dist\/instances\/version\.js|dist\/runs\/stats-window\.js|node_modules\/(commander|eventsource-parser|ms)\/.+))$/;

/** The URLs of the modules `jobdeck <args>` loaded, recorded by a loader hook. */
async function modulesLoadedBy(args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const file = join(temp.dir, `modules-${args[0]}-${Date.now()}.txt`);
  const result = await children.run(args, {
    env: {
      ...env,
      RECORD_MODULES_TO: file,
      NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(RECORDER).href}`,
    },
  });
  expect(result.exit.signal, result.stderr).toBeNull();
  return lines(readFileSync(file, 'utf8'));
}

beforeAll(async () => {
  requireBuild();
  server = serverChildren.start(
    ['serve', '--demo', '--db', join(temp.dir, 'jobdeck.db'), '--port', '0', '--concurrency', '1'],
    // The most verbose logging, so that "never prints a token" checks everything it could log.
    { env: cleanEnv({ JOBDECK_TOKENS: TOKENS_ENV, JOBDECK_LOG_LEVEL: 'trace' }) },
  );
  // --port 0 lets the system pick a free port; the banner names the real one.
  const [, address] = await server.waitForStdout(
    /Jobdeck is serving 5 jobs on (http:\/\/127\.0\.0\.1:\d+)\n/,
  );
  url = address!;
  expect(url).not.toMatch(/:0$/);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
}, START_TIMEOUT + 5000);

afterEach(() => children.killAll());
afterAll(() => {
  children.killAll();
  serverChildren.killAll();
  temp.cleanup();
});

// The tests run in order: later ones read the runs earlier ones made.
let completedId: string | undefined;
let cancelledId: string | undefined;

describe('jobdeck client commands against `jobdeck serve --demo`', () => {
  it('jobs lists the five demo jobs', async () => {
    const result = await jobdeck(['jobs']);
    expect(result.exit, result.stderr).toEqual({ code: 0, signal: null });
    const [header, ...rows] = lines(result.stdout);
    expect(header).toMatch(/^NAME\s+CATEGORY\s+ENABLED\s+SCHEDULE\s+RATE\s+DESCRIPTION$/);
    expect(rows.map((row) => row.split(/\s+/)[0]).sort()).toEqual(DEMO_JOBS);
    // Schedules as they are written in the job's options, descriptions without markdown.
    expect(rows.find((row) => row.startsWith('demo.cache_warming'))).toMatch(/\severy 1h\s/);
    expect(rows.find((row) => row.startsWith('demo.steps'))).toMatch(
      /\s-\s+-\s+Runs steps sequential steps of stepMs each\.$/,
    );
    expect(result.stdout).not.toContain('`');

    const json = await jobdeck(['jobs', '--json']);
    expect(json.exit.code).toBe(0);
    expect(JSON.parse(json.stdout).map((job: { name: string }) => job.name)).toEqual(
      expect.arrayContaining(DEMO_JOBS),
    );
  });

  it('trigger starts a run; watch and logs --follow follow it live until it completes', async () => {
    // The server runs one run at a time: while a blocker runs, the run under test waits, so
    // watch and logs --follow are surely there before it starts, however slow they start.
    const blocker = await trigger({ steps: 1000, stepMs: 100 });
    await waitForStatus(blocker, 'running');
    const input = { steps: 3, stepMs: 200 };
    const id = await trigger(input);
    const watch = children.start(['watch', id], { env: clientEnv() });
    const follow = children.start(['logs', id, '--follow'], { env: clientEnv() });
    await watch.waitForStdout(/^pending$/m);
    expect((await getRun(id)).status).toBe('pending');
    await cancelOverHttp(blocker);

    const watched = await watch.waitForExit();
    const followed = await follow.waitForExit();
    const run = await getRun(id);
    expect(run.status).toBe('completed');
    const finishedAt = Date.parse(run.finishedAt!);

    // watch (not a TTY): one plain line per change, then the run; exit code 0 for completed.
    expect(watched, watch.stderr).toEqual({ code: 0, signal: null });
    const watchLines = lines(watch.stdout);
    expect(watch.firstStdoutAt).toBeLessThan(finishedAt);
    const changes = watchLines.slice(0, -1);
    expect(changes.length).toBeGreaterThan(0);
    for (const line of changes)
      expect(line).toMatch(/^(pending|running|completed)( \d+(\.\d+)?%)?( · .+)?$/);
    const percents = changes.map((line) => Number(/^\S+ ([\d.]+)%/.exec(line)?.[1] ?? 0));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.some((percent) => percent > 0 && percent < 100)).toBe(true);
    // While it runs: steps done of all, time since it started, and the time left at that pace.
    expect(changes).toContainEqual(
      expect.stringMatching(
        /^running \d+(\.\d+)?% · [12]\/3 · \d+ m?s elapsed · ETA (\d+ m?s|now)$/,
      ),
    );
    expect(watchLines.at(-1)).toBe(`${id} demo.steps completed 100% attempt 1/1`);

    // logs --follow printed while the run was running, and ended when it finished.
    expect(followed, follow.stderr).toEqual({ code: 0, signal: null });
    expect(follow.firstStdoutAt).toBeLessThan(finishedAt);
    const messages = lines(follow.stdout).map((line) => line.split(/\s+/).slice(2).join(' '));
    expect(messages).toEqual([
      'step 1 started',
      'step 1 ended',
      'step 2 started',
      'step 2 ended',
      'step 3 started',
      'step 3 ended',
    ]);

    const logs = await jobdeck(['logs', id]);
    expect(logs.exit.code).toBe(0);
    expect(logs.stdout).toMatch(/^\S+ info {2}step 1 started$/m);
    expect(lines(logs.stdout)).toHaveLength(6);

    const shown = await jobdeck(['run', id, '--json']);
    expect(shown.exit.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id,
      job: 'demo.steps',
      status: 'completed',
      input,
      result: { steps: 3 },
      progress: { processed: 3, total: 3, percent: 100 },
      attempt: 1,
      createdBy: 'ops',
    });
    const plain = await jobdeck(['run', id]);
    expect(plain.stdout).toBe(
      `${id} demo.steps completed 100% attempt 1/1\nsteps:\n` +
        ['step 1', 'step 2', 'step 3'].map((step) => `  ${step}: completed (attempt 1)\n`).join(''),
    );
    completedId = id;
  });

  it('cancel --force stops a running run, and watch exits with code 2', async () => {
    const id = await trigger({ steps: 100, stepMs: 1000 });
    const watch = children.start(['watch', id], { env: clientEnv() });
    await waitForStatus(id, 'running');
    await watch.waitForStdout(/^running/m);

    const cancel = await jobdeck(['cancel', id, '--force', '--reason', 'wrong input']);
    expect(cancel.exit, cancel.stderr).toEqual({ code: 0, signal: null });
    // The outcome in words, then who asked and why.
    expect(cancel.stdout).toMatch(
      new RegExp(
        `^(Stopped|Stopping) ${id} demo.steps by force: .+\\. Asked by ops: wrong input\\.\\n$`,
      ),
    );

    expect(await watch.waitForExit(), watch.stderr).toEqual({ code: 2, signal: null });
    expect(lines(watch.stdout).at(-1)).toMatch(
      new RegExp(`^${id} demo.steps cancelled .*\\(cancel force by ops\\)$`),
    );

    const shown = await jobdeck(['run', id, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      status: 'cancelled',
      cancel: { mode: 'force', reason: 'wrong input', requestedBy: 'ops' },
    });
    const logs = await jobdeck(['logs', id]);
    expect(logs.stdout).toContain('step 1 started');
    expect(logs.stdout).not.toContain('step 100 started');
    cancelledId = id;
  });

  it('runs --json lists the runs with their statuses, and --status filters them', async () => {
    expect(completedId).toBeDefined();
    expect(cancelledId).toBeDefined();
    const all = await jobdeck(['runs', '--json'], ADMIN_TOKEN);
    expect(all.exit, all.stderr).toEqual({ code: 0, signal: null });
    const { runs } = JSON.parse(all.stdout) as { runs: { id: string; status: string }[] };
    const statusOf = new Map(runs.map((run) => [run.id, run.status]));
    expect(statusOf.get(completedId!)).toBe('completed');
    expect(statusOf.get(cancelledId!)).toBe('cancelled');
    // Newest first.
    expect(runs.findIndex((run) => run.id === cancelledId)).toBeLessThan(
      runs.findIndex((run) => run.id === completedId),
    );

    const cancelled = await jobdeck(['runs', '--status', 'cancelled', '--json']);
    const onlyCancelled = JSON.parse(cancelled.stdout).runs as { id: string; status: string }[];
    // This one and the blocker of the watch test.
    expect(onlyCancelled).toHaveLength(2);
    expect(onlyCancelled.every((run) => run.status === 'cancelled')).toBe(true);
    expect(onlyCancelled[0]!.id).toBe(cancelledId);

    const table = await jobdeck(['runs', '--job', 'demo.steps']);
    expect(lines(table.stdout)[0]).toMatch(/^ID\s+JOB\s+STATUS\s+PROGRESS\s+ATTEMPT\s+CREATED$/);
    expect(table.stdout).toMatch(new RegExp(`^${completedId}\\s+demo.steps\\s+completed\\s`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^${cancelledId}\\s+demo.steps\\s+cancelled\\s`, 'm'));
  });

  it('cancel says what it did in words, with who asked and why; a finished run is a conflict (exit 4)', async () => {
    expect(completedId).toBeDefined();
    const running = await trigger({ steps: 100, stepMs: 500 });
    await waitForStatus(running, 'running');
    // The server runs one run at a time: this one waits, and is cancelled before it starts.
    const waiting = await trigger({ steps: 1, stepMs: 10 });
    const now = await jobdeck(['cancel', waiting]);
    expect(now.exit, now.stderr).toEqual({ code: 0, signal: null });
    expect(now.stdout).toBe(
      `Cancelled ${waiting} demo.steps before it started. Asked by ops, no reason given.\n`,
    );

    const graceful = await jobdeck(['cancel', running, '--reason', 'enough.']);
    expect(graceful.exit, graceful.stderr).toEqual({ code: 0, signal: null });
    expect(graceful.stdout).toBe(
      `Stopping ${running} demo.steps gracefully: the current step finishes and no new one starts. Asked by ops: enough.\n`,
    );
    // Asked again: unchanged, still stopping or stopped by now; the reason is the first one.
    const again = await jobdeck(['cancel', running]);
    expect(again.exit, again.stderr).toEqual({ code: 0, signal: null });
    expect(again.stdout).toMatch(
      new RegExp(
        `^${running} demo.steps is already (stopping \\(graceful\\); --force stops it at once|cancelled)\\. Asked by ops: enough\\.\\n$`,
      ),
    );
    await waitForStatus(running, 'cancelled');

    const finished = await jobdeck(['cancel', completedId!]);
    expect(finished.exit).toEqual({ code: EXIT_CODES.refused.code, signal: null });
    expect(finished.stderr).toBe(
      `jobdeck: RUN_FINISHED (409): Run ${completedId} has already ended: completed.\n`,
    );
    expect(finished.stdout).toBe('');
  });

  it('Ctrl-C stops watch, not the run: exit 130 and a word on how to stop the run', async () => {
    const id = await trigger({ steps: 100, stepMs: 500 });
    const watch = children.start(['watch', id], { env: clientEnv() });
    await watch.waitForStdout(/^running/m);
    expect(await watch.stop('SIGINT')).toEqual({ code: EXIT_CODES.interrupted.code, signal: null });
    expect(watch.stderr).toBe(
      `jobdeck: stopped watching ${id}; the run goes on (jobdeck cancel ${id} stops it)\n`,
    );
    expect((await getRun(id)).status).toBe('running');
    await cancelOverHttp(id);
    await waitForStatus(id, 'cancelled');
  });

  it('client commands load the client and the command line, none of the server (a test of structure, not of time)', async () => {
    expect(completedId).toBeDefined();
    const commands = [
      ['--version'],
      ['--help'],
      ['jobs'],
      ['runs'],
      ['run', completedId!],
      ['watch', completedId!],
      ['logs', completedId!],
      ['cancel', completedId!],
      ['stats'],
    ];
    for (const args of commands) {
      const loaded = await modulesLoadedBy([...args, '--idempotency-key', 'import-1'], clientEnv());
      expect(loaded.length, `${args.join(' ')}`).toBeGreaterThan(0);
      expect(
        loaded.filter((url) => !CLIENT_MODULES.test(url)),
        `modules \`jobdeck ${args.join(' ')}\` loaded beyond the client`,
      ).toEqual([]);
    }
    // The recorder sees what a server command loads: the store and its driver.
    const migrate = await modulesLoadedBy(
      ['migrate', '--db', join(temp.dir, 'modules', 'jobdeck.db')],
      cleanEnv(),
    );
    expect(migrate).toContainEqual(expect.stringMatching(/\/dist\/store\/open\.js$/));
    expect(migrate).toContainEqual(expect.stringMatching(/\/node_modules\/better-sqlite3\//));
  });

  it('a reader that closes the pipe early ends the command quietly, without an EPIPE stack', async () => {
    const child = spawn(process.execPath, [BIN, 'runs', '--limit', '100'], {
      env: clientEnv(ADMIN_TOKEN),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // As `| head -0` would: the reading end is gone before the table is written.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('runs --id, --from and --total filter and count; stats counts the same runs and what waits', async () => {
    expect(completedId).toBeDefined();
    const byId = await jobdeck(['runs', '--id', completedId!.slice(0, 20), '--total', '--json']);
    expect(byId.exit, byId.stderr).toEqual({ code: 0, signal: null });
    const page = JSON.parse(byId.stdout) as { runs: { id: string }[]; total: number };
    expect(page.runs.map((run) => run.id)).toContain(completedId);
    expect(page).toMatchObject({ total: page.runs.length, totalIsCapped: false });

    const future = await jobdeck(['runs', '--from', '2999-01-01T00:00:00Z', '--total', '--json']);
    expect(JSON.parse(future.stdout)).toMatchObject({ runs: [], total: 0 });
    const recent = await jobdeck(['runs', '--from', '1h', '--total', '--json']);
    const { total } = JSON.parse(recent.stdout) as { total: number };
    expect(total).toBeGreaterThanOrEqual(2);
    const table = await jobdeck(['runs', '--from', '1h', '--total']);
    expect(lines(table.stdout)[0]).toBe(`${total} ${total === 1 ? 'run matches' : 'runs match'}`);

    // Every run of this server was created within the last hour: the last 24 h count them all.
    const json = await jobdeck(['stats', '--json']);
    expect(json.exit, json.stderr).toEqual({ code: 0, signal: null });
    const stats = JSON.parse(json.stdout) as {
      bucket: string;
      buckets: { created: number }[];
      now: { unfinished: Record<string, number> };
    };
    expect(stats.bucket).toBe('1h');
    expect(stats.buckets.reduce((sum, bucket) => sum + bucket.created, 0)).toBe(total);
    const text = await jobdeck(['stats', '--from', '2h', '--bucket', '5m']);
    expect(text.exit, text.stderr).toEqual({ code: 0, signal: null });
    expect(lines(text.stdout)[0]).toMatch(/^BUCKET\s+JOB\s+CREATED\s+STARTED\s+COMPLETED/);
    expect(text.stdout).toMatch(/^now: scheduled \d+, pending \d+, running \d+, cancelling \d+/m);

    const bad = await jobdeck(['stats', '--bucket', '2h']);
    expect(bad.exit.code).toBe(4);
    expect(bad.stderr).toMatch(/INVALID_INPUT \(400\)/);
    expect(bad.stderr).toMatch(/^ {2}bucket: /m);
  });

  it('a bad or missing token exits 5 with UNAUTHENTICATED and says which variable or flag to set; --token wins over JOBDECK_TOKEN', async () => {
    const cases = [
      { token: null, args: [], hint: 'no token was given: set JOBDECK_TOKEN or pass --token' },
      {
        token: 'not-a-configured-token',
        args: [],
        hint: 'the server does not know the token of JOBDECK_TOKEN',
      },
      {
        token: OPERATOR_TOKEN,
        args: ['--token', 'not-a-configured-token'],
        hint: 'the server does not know the token of --token',
      },
    ];
    for (const { token, args, hint } of cases) {
      const result = await jobdeck(['jobs', ...args], token);
      expect(result.exit, result.stderr).toEqual({ code: 5, signal: null });
      expect(result.stderr).toMatch(/^jobdeck: UNAUTHENTICATED \(401\): /);
      expect(result.stderr).toContain(hint);
      expect(result.stdout).toBe('');
    }
    const flagged = await jobdeck(
      ['jobs', '--json', '--token', ADMIN_TOKEN],
      'not-a-configured-token',
    );
    expect(flagged.exit, flagged.stderr).toEqual({ code: 0, signal: null });
  });

  it('trigger with invalid input exits non-zero with INVALID_INPUT and the field path', async () => {
    const result = await jobdeck(['trigger', 'demo.steps', '--input', '{"steps":"three"}']);
    expect(result.exit.code).not.toBe(0);
    expect(result.exit.code).not.toBeNull();
    expect(result.stderr).toMatch(/INVALID_INPUT/);
    expect(result.stderr).toMatch(/^\s+input\.steps: /m);
    expect(result.stdout).toBe('');

    const notJson = await jobdeck(['trigger', 'demo.steps', '--input', '{steps:']);
    expect(notJson.exit.code).not.toBe(0);
    expect(notJson.stderr).toMatch(/--input is not valid JSON/);
  });

  it('workers lists this server and a worker process on its file, which is gone once stopped', async () => {
    const worker = children.start(
      ['worker', '--demo', '--db', join(temp.dir, 'jobdeck.db'), '--concurrency', '3'],
      { env: cleanEnv() },
    );
    const [, workerId] = await worker.waitForStdout(/^Jobdeck worker (\S+) runs 5 jobs on /m);
    const table = await jobdeck(['workers']);
    expect(table.exit, table.stderr).toEqual({ code: 0, signal: null });
    const [header, ...rows] = lines(table.stdout);
    expect(header).toMatch(
      /^ID\s+ROLE\s+STATE\s+HOST\s+PID\s+VERSION\s+CONCURRENCY\s+RUNS\s+LAST SEEN$/,
    );
    expect(rows).toHaveLength(2);
    const version = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    const escaped = version.replaceAll('.', '\\.');
    expect(table.stdout).toMatch(
      new RegExp(
        `^\\S+\\s+both\\s+alive\\s+\\S+\\s+${server.child.pid}\\s+${escaped}\\s+1\\s`,
        'm',
      ),
    );
    expect(table.stdout).toMatch(
      new RegExp(
        `^${workerId}\\s+worker\\s+alive\\s+\\S+\\s+${worker.child.pid}\\s+${escaped}\\s+3\\s+0\\s`,
        'm',
      ),
    );

    expect(await worker.stop('SIGTERM'), worker.output()).toEqual({ code: 0, signal: null });
    // A clean stop unregisters at once: no wait for it to be lost.
    const json = await jobdeck(['workers', '--json']);
    expect(json.exit, json.stderr).toEqual({ code: 0, signal: null });
    const listed = JSON.parse(json.stdout) as { role: string; pid: number; state: string }[];
    expect(listed.map((w) => [w.role, w.pid, w.state])).toEqual([
      ['both', server.child.pid, 'alive'],
    ]);
  });

  it('a client command against an address where nothing listens exits 6 naming it and what to set', async () => {
    const address = `http://127.0.0.1:${await freePort()}`;
    const result = await children.run(['workers'], {
      env: cleanEnv({ JOBDECK_URL: address, JOBDECK_TOKEN: OPERATOR_TOKEN }),
    });
    expect(result.exit).toEqual({ code: 6, signal: null });
    expect(result.stderr).toBe(
      `jobdeck: cannot reach ${address} (ECONNREFUSED) — is jobdeck serve running? Set JOBDECK_URL or --url to its address.\n`,
    );
    expect(result.stdout).toBe('');
  });

  it('an address that is no http URL is refused before anything is sent, naming where it came from', async () => {
    const env = await children.run(['runs'], {
      env: cleanEnv({ JOBDECK_URL: 'localhost:3000', JOBDECK_TOKEN: OPERATOR_TOKEN }),
    });
    expect(env.exit).toEqual({ code: 1, signal: null });
    expect(env.stderr).toBe(
      `jobdeck: JOBDECK_URL must be the server's http:// or https:// address, such as http://127.0.0.1:3000, not "localhost:3000"\n`,
    );
    const flag = await jobdeck(['runs', '--url', 'ftp://example.com']);
    expect(flag.exit.code).toBe(1);
    expect(flag.stderr).toMatch(
      /^jobdeck: --url must be the server's http:\/\/ or https:\/\/ address/,
    );
  });

  it('trigger --input-file starts one run per line, in requests the API takes, and says what became of them', async () => {
    // Far in the future, so the runs wait and keep the server's one slot free.
    const runAt = '2999-01-01T00:00:00.000Z';
    const scheduledByOps = async () => {
      const response = await fetch(`${url}/api/runs?createdBy=ops&status=scheduled&total=true`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      return ((await response.json()) as { total: number }).total;
    };
    expect(await scheduledByOps()).toBe(0);
    // More lines than one request takes; blank lines (counted in line numbers) are skipped; the
    // input on line 700 is one its job refuses.
    const lines = Array.from({ length: 1203 }, (_, n) =>
      JSON.stringify({ steps: n + 1, stepMs: 1 }),
    );
    lines.splice(699, 0, '{"steps":"seven hundred","stepMs":1}');
    const file = join(temp.dir, 'runs.ndjson');
    writeFileSync(file, ['', ...lines.slice(0, 10), '  ', ...lines.slice(10), ''].join('\n'));
    const args = ['trigger', 'demo.steps', '--input-file', file, '--run-at', runAt];
    const first = await jobdeck([...args, '--idempotency-key', 'import-1']);
    expect(first.exit, first.stderr).toEqual({ code: EXIT_CODES.refused.code, signal: null });
    expect(first.stdout).toBe(
      `created 1203, existing 0, failed 1 (1204 runs of demo.steps from ${file})\n`,
    );
    // Line 700 of the list is line 702 of the file (the blank lines before it).
    expect(first.stderr).toMatch(
      /^line 702: INVALID_INPUT: The input is not valid\.\n {2}input\.steps: .+\n$/,
    );
    expect(await scheduledByOps()).toBe(1203);
    // Each line's key is the given key and its line number.
    const listed = await jobdeck(['runs', '--status', 'scheduled', '--limit', '1', '--json']);
    expect(JSON.parse(listed.stdout).runs[0]).toMatchObject({
      input: { steps: 1203, stepMs: 1 },
      idempotencyKey: 'import-1:1206',
      runAt,
      createdBy: 'ops',
    });

    // The same file again from stdin, with the same key: every run already exists.
    const again = children.start(
      [...args.slice(0, 3), '-', ...args.slice(4), '--idempotency-key', 'import-1', '--json'],
      {
        env: clientEnv(),
      },
    );
    again.child.stdin.end(readFileSync(file));
    expect(await again.waitForExit(), again.stderr).toEqual({
      code: EXIT_CODES.refused.code,
      signal: null,
    });
    const report = JSON.parse(again.stdout) as {
      created: number;
      existing: number;
      failed: number;
      results: { line: number; created?: boolean; error?: string }[];
    };
    expect(report).toMatchObject({ created: 0, existing: 1203, failed: 1 });
    expect(report.results.map((r) => r.line)).toEqual(
      Array.from({ length: 1206 }, (_, i) => i + 1).filter((line) => line !== 1 && line !== 12),
    );
    expect(report.results.find((r) => r.line === 702)).toMatchObject({ error: 'INVALID_INPUT' });
    expect(await scheduledByOps()).toBe(1203);

    // Nothing is sent when a line is not JSON: the error names the line (exit 1, as a bad --input).
    const broken = join(temp.dir, 'broken.ndjson');
    writeFileSync(broken, '{"steps":1,"stepMs":1}\n{"steps":2,\n');
    const refused = await jobdeck([
      'trigger',
      'demo.steps',
      '--input-file',
      broken,
      '--run-at',
      runAt,
    ]);
    expect(refused.exit).toEqual({ code: EXIT_CODES.failed.code, signal: null });
    expect(refused.stderr).toMatch(new RegExp(`^jobdeck: ${broken} line 2 is not valid JSON \\(`));
    const both = await jobdeck(['trigger', 'demo.steps', '--input-file', broken, '--input', '{}']);
    expect(both.exit.code).toBe(EXIT_CODES.failed.code);
    expect(both.stderr).toBe('jobdeck: give --input or --input-file, not both\n');
    const empty = join(temp.dir, 'empty.ndjson');
    writeFileSync(empty, '\n  \n');
    const nothing = await jobdeck(['trigger', 'demo.steps', '--input-file', empty]);
    expect(nothing.exit.code).toBe(EXIT_CODES.failed.code);
    expect(nothing.stderr).toMatch(/has no inputs: give one JSON input per line\n$/);
    expect(await scheduledByOps()).toBe(1203);

    const help = await jobdeck(['trigger', '--help']);
    expect(help.stdout).toMatch(/--input-file <path> +start one run per line of this file/);
    // A client command: it loads the client and the command line only.
    const loaded = await modulesLoadedBy(args, clientEnv());
    expect(loaded.filter((module) => !CLIENT_MODULES.test(module))).toEqual([]);
  });

  it('pause and resume say what they did; a paused run holds until resumed, then goes on', async () => {
    const id = await trigger({ steps: 50, stepMs: 200 });
    await waitForStatus(id, 'running');
    const pause = await jobdeck(['pause', id]);
    expect(pause.exit, pause.stderr).toEqual({ code: 0, signal: null });
    expect(pause.stdout).toBe(
      `Pausing ${id} demo.steps: the current step finishes, then it waits, holding no worker, until resumed.\n`,
    );
    await waitForStatus(id, 'paused');
    const again = await jobdeck(['pause', id]);
    expect(again.stdout).toBe(`${id} demo.steps is already paused.\n`);
    const resume = await jobdeck(['resume', id]);
    expect(resume.exit, resume.stderr).toEqual({ code: 0, signal: null });
    expect(resume.stdout).toBe(`Resumed ${id} demo.steps: pending, due now.\n`);
    await waitForStatus(id, 'running');
    // Resuming a run that is not paused is a conflict (exit 4), said in words.
    const notPaused = await jobdeck(['resume', id]);
    expect(notPaused.exit.code).toBe(EXIT_CODES.refused.code);
    expect(notPaused.stderr).toMatch(/RUN_NOT_PAUSED/);
    // Paused again, then cancelled: it was no longer waiting for its start, and says so.
    await jobdeck(['pause', id]);
    await waitForStatus(id, 'paused');
    const cancel = await jobdeck(['cancel', id]);
    expect(cancel.exit, cancel.stderr).toEqual({ code: 0, signal: null });
    expect(cancel.stdout).toBe(
      `Cancelled ${id} demo.steps at once: no handler was running (it was paused, waiting for its child runs, or between tries). Asked by ops, no reason given.\n`,
    );
    await waitForStatus(id, 'cancelled');
    // Steps the first attempt completed were not run again after the resume.
    const logs = lines((await jobdeck(['logs', id])).stdout).filter((line) =>
      line.includes('step 1 started'),
    );
    expect(logs).toHaveLength(1);
  });

  it('the server stops on SIGTERM with exit code 0 and never printed a configured token', async () => {
    expect(await server.stop('SIGTERM'), server.output()).toEqual({ code: 0, signal: null });
    expect(server.stderr).toMatch(/SIGTERM: stopping/);
    const output = server.output();
    for (const token of [OPERATOR_TOKEN, ADMIN_TOKEN, TOKENS_ENV])
      expect(output).not.toContain(token);
  });
});

describe('jobdeck --version and --help', () => {
  it('--version prints the package version; --help lists the exit codes and the client settings', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const printed = await children.run(['--version'], { env: cleanEnv() });
    expect(printed.exit).toEqual({ code: 0, signal: null });
    expect(printed.stdout).toBe(`${version}\n`);

    const help = await children.run(['--help'], { env: cleanEnv() });
    expect(help.exit).toEqual({ code: 0, signal: null });
    expect(help.stdout).toMatch(/JOBDECK_URL \(or --url; default http:\/\/127\.0\.0\.1:3000\)/);
    expect(help.stdout).toMatch(/JOBDECK_TOKEN \(or --token\)/);
    const listed = help.stdout.slice(help.stdout.indexOf('Exit codes:'));
    for (const { code, meaning } of Object.values(EXIT_CODES))
      expect(listed).toContain(`${String(code).padStart(3)}  ${meaning}\n`);
  });
});

describe('jobdeck migrate and worker', () => {
  it('migrate applies the migrations once, then is up to date', async () => {
    const db = join(temp.dir, 'migrate', 'jobdeck.db');
    const first = await children.run(['migrate', '--db', db], { env: cleanEnv() });
    expect(first.exit, first.stderr).toEqual({ code: 0, signal: null });
    expect(first.stdout).toMatch(/^applied \S+/);
    const second = await children.run(['migrate', '--db', db], { env: cleanEnv() });
    expect(second.exit, second.stderr).toEqual({ code: 0, signal: null });
    expect(second.stdout).toMatch(/^up to date \(version \d+\)\n$/);
  });

  it('worker starts, and stops on SIGTERM with exit code 0', async () => {
    const db = join(temp.dir, 'worker', 'jobdeck.db');
    const worker = children.start(['worker', '--demo', '--db', db], { env: cleanEnv() });
    await worker.waitForStdout(/^Jobdeck worker \S+ runs 5 jobs on .*jobdeck\.db$/m);
    expect(await worker.stop('SIGTERM'), worker.output()).toEqual({ code: 0, signal: null });
    expect(worker.stderr).toMatch(/SIGTERM: stopping/);
  });
});

describe('logs --follow (in process, with a scripted client)', () => {
  it('prints each line once and in order when a read is in flight as the stream delivers', async () => {
    const entry = (seq: number): LogInfo => ({
      seq,
      level: 'info',
      message: `line ${seq}`,
      time: '2026-01-01T00:00:00.000Z',
    });
    // The read the stream's opening starts answers only after line 2 came by the stream.
    const catchUp = deferred<LogInfo[]>();
    const reads: number[] = [];
    const client = scriptedClient({
      logs: async (_id: string, after: number) => {
        reads.push(after);
        if (reads.length === 1) return [entry(1)];
        if (reads.length === 2) return catchUp.promise;
        return [entry(1), entry(2), entry(3)].filter((e) => e.seq > after);
      },
      run: async () => ({ status: 'running' }),
      follow: async (onEvent: (event: ClientEvent) => void, onOpen: () => void) => {
        onOpen();
        onEvent({ id: '1', name: 'run.log', data: { entry: entry(2) } });
        catchUp.resolve([entry(2)]);
        await pollUntil(() => reads.length >= 2 && reads.length);
        onEvent({ id: '2', name: 'run.log', data: { entry: entry(3) } });
        onEvent({ id: '3', name: 'run.finished', data: {} });
      },
    });

    const printed = await captureStdout(() => printLogs(client, 'run-1', true));
    expect(lines(printed).map((line) => line.split(/\s+/).slice(2).join(' '))).toEqual([
      'line 1',
      'line 2',
      'line 3',
    ]);
  });
});

describe('watch (in process, with a scripted client)', () => {
  const startedAt = new Date().toISOString();
  const progress = (processed: number) => ({
    processed,
    total: 4,
    percent: processed * 25,
    message: null,
  });

  it('a run that started before the stream opened is shown running, from the read the opening starts', async () => {
    const reads = [
      { id: 'run-1', job: 'demo.steps', status: 'pending', progress: null, startedAt: null },
      { id: 'run-1', job: 'demo.steps', status: 'running', progress: progress(1), startedAt },
      { id: 'run-1', job: 'demo.steps', status: 'completed', progress: progress(4), startedAt },
    ];
    const client = scriptedClient({
      run: async () => reads.shift(),
      follow: async (onEvent: (event: ClientEvent) => void, onOpen: () => void) => {
        // The run started, and its first step ended, before the stream opened: no event of it.
        onOpen();
        // One turn of the event loop: the read the opening started has answered and been shown.
        await new Promise((resolve) => setImmediate(resolve));
        const run = { id: 'run-1', job: 'demo.steps', progress: progress(2) };
        onEvent({ id: '7', name: 'run.progress', data: { run } });
        onEvent({
          id: '8',
          name: 'run.finished',
          data: { run: { ...run, status: 'completed', progress: progress(4), startedAt } },
        });
      },
    });

    const printed = await captureStdout(() => watchRun(client, 'run-1', false));
    const changes = lines(printed).slice(0, -1);
    expect(changes[0]).toBe('pending');
    expect(changes[1]).toMatch(/^running 25% · 1\/4 · /);
    expect(changes[2]).toMatch(/^running 50% · 2\/4 · /);
    expect(changes.at(-1)).toBe('completed 100% · 4/4');
  });

  it('a read overtaken by an event of the stream does not take the run back to an older status', async () => {
    const catchUp = deferred<unknown>();
    let reads = 0;
    const client = scriptedClient({
      run: async () => {
        reads++;
        if (reads === 1)
          return { id: 'run-1', job: 'demo.steps', status: 'pending', progress: null };
        if (reads === 2) return catchUp.promise;
        return { id: 'run-1', job: 'demo.steps', status: 'completed', progress: progress(4) };
      },
      follow: async (onEvent: (event: ClientEvent) => void, onOpen: () => void) => {
        onOpen();
        const run = { id: 'run-1', job: 'demo.steps', startedAt };
        onEvent({ id: '7', name: 'run.started', data: { run: { ...run, status: 'running' } } });
        onEvent({
          id: '8',
          name: 'run.progress',
          data: { run: { ...run, progress: progress(3) } },
        });
        // The read the opening started answers only now, with what it saw before those events.
        catchUp.resolve({ id: 'run-1', job: 'demo.steps', status: 'pending', progress: null });
        // One turn of the event loop: every promise callback of that read has run.
        await new Promise((resolve) => setImmediate(resolve));
        onEvent({
          id: '9',
          name: 'run.finished',
          data: { run: { ...run, status: 'completed', progress: progress(4) } },
        });
      },
    });

    const printed = await captureStdout(() => watchRun(client, 'run-1', false));
    const changes = lines(printed).slice(0, -1);
    expect(changes.map((line) => line.split(' ')[0])).toEqual([
      'pending',
      'running',
      'running',
      'completed',
    ]);
    expect(changes[2]).toMatch(/^running 75% · 3\/4 · /);
  });
});
