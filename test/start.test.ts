/**
 * The quick start: `npm start` runs `node scripts/start.mjs`, which serves the demo jobs on the
 * default SQLite file `./.jobdeck/jobdeck.db` of its working folder. Each case runs the script by
 * its absolute path in a fresh temp folder, on a free port given by JOBDECK_PORT.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Children, cleanEnv, freePort, requireBuild, START_SCRIPT } from './helpers/cli-process.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/temp.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const DEMO_JOBS = ['demo.batches', 'demo.cache_warming', 'demo.fanout', 'demo.nodes', 'demo.steps'];

const children = new Children();
const cleanups: (() => void)[] = [];

beforeAll(() => requireBuild());
afterEach(() => {
  children.killAll();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Start the quick start in a fresh temp folder with `env` (and no other JOBDECK_* variable). */
async function quickStart(env: Record<string, string>, options: { mergeStderr?: boolean } = {}) {
  const { dir, cleanup } = tempDir('jobdeck-start-test-');
  cleanups.push(cleanup);
  const child = children.start([], {
    script: START_SCRIPT,
    cwd: dir,
    env: cleanEnv(env),
    ...options,
  });
  const [, url] = await child.waitForStdout(/Jobdeck is serving 5 jobs on (http:\/\/\S+)\n/);
  return { dir, child, url: url! };
}

/** The answers these tests read: health, a jobs listing, a run, or an error. */
interface Answer {
  status?: string;
  store?: string;
  jobs?: { name: string }[];
  run?: RunAnswer;
  error?: string;
}

async function get(url: string, token?: string): Promise<{ status: number; body: Answer }> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

/** A run as GET /api/runs/:id answers it, with what these tests read. */
interface RunAnswer {
  id: string;
  status: string;
  result: unknown;
  children: { job: string; status: string }[];
}

/** Start a run of a demo job over HTTP with the printed token; its id. */
async function trigger(url: string, token: string, job: string, input: unknown): Promise<string> {
  const response = await fetch(`${url}/api/jobs/${job}/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ input }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { run: { id: string } }).run.id;
}

/** The run once it is `status`, read over HTTP until then. */
function runOnceItIs(url: string, token: string, id: string, status: string): Promise<RunAnswer> {
  return pollUntil(
    async () => {
      const { run } = (await get(`${url}/api/runs/${id}`, token)).body;
      return run?.status === status && run;
    },
    { timeoutMs: EVENT_DEADLINE_MS, what: `run ${id} to be ${status}` },
  );
}

describe('the quick start (npm start)', () => {
  it('with no tokens configured: prints one generated admin token that works, ready to paste, and uses ./.jobdeck/jobdeck.db', async () => {
    const port = await freePort();
    const { dir, child, url } = await quickStart({ JOBDECK_PORT: String(port) });
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const [, exported, token] = await child.waitForStdout(
      /^ {2}export JOBDECK_URL=(\S+) JOBDECK_TOKEN=(\S+)\n/m,
    );
    expect(exported).toBe(`http://localhost:${port}`);
    expect((await get(`${exported}/api/jobs`, token)).status).toBe(200);

    expect(await get(`${url}/healthz`)).toMatchObject({
      status: 200,
      body: { status: 'ok', store: 'ok' },
    });
    const anonymous = await get(`${url}/api/jobs`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('UNAUTHENTICATED');
    expect((await get(`${url}/api/jobs`, 'not-the-generated-token')).status).toBe(401);

    const jobs = await get(`${url}/api/jobs`, token);
    expect(jobs.status).toBe(200);
    expect(jobs.body.jobs!.map((job) => job.name).sort()).toEqual(DEMO_JOBS);

    expect(existsSync(join(dir, '.jobdeck', 'jobdeck.db'))).toBe(true);

    // The demo's parent run: two children of demo.steps, then their steps added up.
    const id = await trigger(url, token!, 'demo.fanout', { children: 2, steps: 2, stepMs: 0 });
    const parent = await runOnceItIs(url, token!, id, 'completed');
    expect(parent.result).toEqual({ children: 2, steps: 4 });
    expect(parent.children).toEqual([
      expect.objectContaining({ job: 'demo.steps', status: 'completed' }),
      expect.objectContaining({ job: 'demo.steps', status: 'completed' }),
    ]);

    expect(await child.stop('SIGTERM'), child.output()).toEqual({ code: 0, signal: null });
    // Shown once, and in no log line.
    expect(child.output().split(token!)).toHaveLength(2);
  });

  it('with JOBDECK_TOKENS: generates no token, takes the configured ones, and JOBDECK_PORT picks the port', async () => {
    const adminToken = 'start-admin-token-3c9e51aa';
    const viewerToken = 'start-viewer-token-72b0d4ee';
    const tokensEnv = `boss:admin:${adminToken},eve:viewer:${viewerToken}`;
    const port = await freePort();
    const { dir, child, url } = await quickStart({
      JOBDECK_PORT: String(port),
      JOBDECK_TOKENS: tokensEnv,
    });
    expect(url).toBe(`http://127.0.0.1:${port}`);

    for (const token of [adminToken, viewerToken]) {
      const jobs = await get(`${url}/api/jobs`, token);
      expect(jobs.status).toBe(200);
      expect(jobs.body.jobs!.map((job) => job.name).sort()).toEqual(DEMO_JOBS);
    }
    expect((await get(`${url}/api/jobs`)).status).toBe(401);
    expect(existsSync(join(dir, '.jobdeck', 'jobdeck.db'))).toBe(true);

    expect(await child.stop('SIGTERM'), child.output()).toEqual({ code: 0, signal: null });
    const output = child.output();
    expect(output).not.toMatch(/No tokens are configured/);
    expect(output).not.toMatch(/JOBDECK_TOKEN=/);
    for (const secret of [adminToken, viewerToken, tokensEnv]) expect(output).not.toContain(secret);
  });

  it('as a terminal shows both streams: the log lines of the start first, then the banner in one block', async () => {
    const port = await freePort();
    const { child } = await quickStart(
      { JOBDECK_PORT: String(port), JOBDECK_LOG_LEVEL: 'trace' },
      { mergeStderr: true },
    );
    const [banner] = await child.waitForStdout(
      /^Jobdeck is serving 5 jobs on [\s\S]*?^ {2}export JOBDECK_URL=\S+ JOBDECK_TOKEN=\S+\n/m,
    );
    expect(banner.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
    const before = child.stdout.slice(0, child.stdout.indexOf(banner));
    expect(before).toMatch(/"msg":"Server listening at http:\/\/127\.0\.0\.1:\d+"/);
    expect(await child.stop('SIGTERM'), child.output()).toEqual({ code: 0, signal: null });
  });

  it('Ctrl-C (SIGINT to the whole process group, so the server gets it more than once) stops cleanly: a running run is released, not lost', async () => {
    const port = await freePort();
    const { dir, child, url } = await quickStart({ JOBDECK_PORT: String(port) });
    const [, token] = await child.waitForStdout(
      /^ {2}export JOBDECK_URL=\S+ JOBDECK_TOKEN=(\S+)\n/m,
    );
    const id = await trigger(url, token!, 'demo.steps', { steps: 1000, stepMs: 100 });
    await runOnceItIs(url, token!, id, 'running');

    child.signalGroup('SIGINT');
    expect(await child.waitForExit(EVENT_DEADLINE_MS), child.output()).toEqual({
      code: 0,
      signal: null,
    });
    expect(child.output()).toContain('SIGINT: stopping; runs get 10 s to finish');
    expect(child.output()).not.toContain('exiting now');
    // Released for another attempt, as a clean stop does; not left to fail as a lost worker.
    const store = new SqliteStore({ path: join(dir, '.jobdeck', 'jobdeck.db') });
    try {
      const stored = await store.runGet({ id });
      expect(stored?.status).toBe('pending');
      expect(stored?.attempts.map((attempt) => attempt.outcome)).toEqual(['released']);
    } finally {
      await store.close();
    }
  });

  it('a second signal, not the same one passed on, exits at once with code 1', async () => {
    const port = await freePort();
    const { child, url } = await quickStart({ JOBDECK_PORT: String(port) }, { mergeStderr: true });
    const [, token] = await child.waitForStdout(
      /^ {2}export JOBDECK_URL=\S+ JOBDECK_TOKEN=(\S+)\n/m,
    );
    await trigger(url, token!, 'demo.steps', { steps: 1000, stepMs: 100 });
    child.child.kill('SIGTERM');
    await child.waitForStdout(/SIGTERM: stopping/);
    // What is tested is the window itself: a signal more than a second after the first is a new one.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.child.kill('SIGTERM');
    expect(await child.waitForExit(EVENT_DEADLINE_MS), child.output()).toEqual({
      code: 1,
      signal: null,
    });
    expect(child.stdout).toContain('SIGTERM again: exiting now');
  });
});
