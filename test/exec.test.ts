/**
 * Acceptance tests for the built-in `exec` job: force cancel stops the command's whole process
 * group, output lines land in the logs in order, the allow-list is enforced when a run is
 * created, no token reaches the command's environment, a graceful cancel sends SIGINT, and a
 * non-zero exit fails the run with EXEC_EXIT.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../src/core/glossary.js';
import type { Run, StoredLogEntry } from '../src/core/run.js';
import { defineExecJob } from '../src/jobs/exec.js';
import { openTestDeck, type TestDeck } from './helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';
import {
  expectNoChildProcesses,
  processGroupExists,
  processGroupMembers,
} from './helpers/processes.js';

// Commands start slowly on a loaded machine: a test may wait long, it never fails for being slow.
vi.setConfig({ testTimeout: 2 * EVENT_DEADLINE_MS, hookTimeout: 2 * EVENT_DEADLINE_MS });

const alice: Principal = { name: 'alice', role: 'operator' };
const execJob = defineExecJob({ allow: ['sh', 'env'] });

let open: TestDeck[] = [];
async function deck(): Promise<TestDeck> {
  const t = await openTestDeck([execJob]);
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
  // Nothing a command started is left as a child of this process.
  await expectNoChildProcesses(EVENT_DEADLINE_MS);
});

async function exec(t: TestDeck, command: string, args: string[] = []): Promise<string> {
  const { run } = await t.deck.runs.create({
    job: 'exec',
    input: { command, args },
    principal: alice,
  });
  return run.id;
}

function logsOf(t: TestDeck, id: string): Promise<StoredLogEntry[]> {
  return t.deck.runs.logs(id);
}

async function waitForLog(t: TestDeck, id: string, message: string): Promise<StoredLogEntry> {
  return await pollUntil(async () => (await logsOf(t, id)).find((l) => l.message === message), {
    what: `log ${JSON.stringify(message)} of run ${id}`,
    timeoutMs: EVENT_DEADLINE_MS,
  });
}

/** The pid of the command (the leader of its process group), from the 'command started' log. */
async function commandPid(t: TestDeck, id: string): Promise<number> {
  const started = await waitForLog(t, id, 'command started');
  const pid = (started.data as { pid?: unknown }).pid;
  expect(pid).toEqual(expect.any(Number));
  return pid as number;
}

function waitForEnd(t: TestDeck, id: string): Promise<Run> {
  return t.waitForStatus(id, 'completed', 'partial', 'failed', 'cancelled');
}

/** The command's output lines, in log order. */
async function output(t: TestDeck, id: string): Promise<{ level: string; line: string }[]> {
  return (await logsOf(t, id))
    .filter((l) => (l.data as { stream?: string } | undefined)?.stream)
    .map((l) => ({
      level: `${l.level}/${(l.data as { stream: string }).stream}`,
      line: l.message,
    }));
}

describe('exec', () => {
  it('force cancel stops the command and everything it started', async () => {
    const t = await deck();
    // A child and a grandchild (the backgrounded sleep), both in the command's group.
    const id = await exec(t, 'sh', ['-c', 'sleep 30 & sleep 30; echo never']);
    const pid = await commandPid(t, id);
    await pollUntil(() => processGroupMembers(pid).length >= 2, {
      what: `the command's group ${pid} to hold the shell's children`,
      timeoutMs: EVENT_DEADLINE_MS,
    });
    expect(processGroupExists(pid)).toBe(true);

    const { run, action } = await t.deck.cancels.cancel(id, { mode: 'force' }, alice);
    expect(action).toBe('force');
    expect(run.status).toBe('cancelled');
    // kill(-pgid, 0) fails with ESRCH once no process of the group is left.
    await pollUntil(() => !processGroupExists(pid), {
      what: `process group ${pid} to be gone`,
      timeoutMs: EVENT_DEADLINE_MS,
    });
    await pollUntil(() => t.deck.worker!.activeCount === 0, {
      what: 'the slot to be free',
      timeoutMs: EVENT_DEADLINE_MS,
    });
    expect(await t.deck.runs.get(id)).toMatchObject({ status: 'cancelled', attempt: 1 });
    expect((await output(t, id)).map((o) => o.line)).not.toContain('never');
  });

  it('streams output lines into the logs in order, stdout as info and stderr as warn', async () => {
    const t = await deck();
    const id = await exec(t, 'sh', [
      '-c',
      'for i in 1 2 3 4 5; do echo line $i; done; echo trouble >&2',
    ]);
    const done = await waitForEnd(t, id);
    expect(done).toMatchObject({ status: 'completed', result: { exitCode: 0 } });
    expect(await output(t, id)).toEqual([
      { level: 'info/stdout', line: 'line 1' },
      { level: 'info/stdout', line: 'line 2' },
      { level: 'info/stdout', line: 'line 3' },
      { level: 'info/stdout', line: 'line 4' },
      { level: 'info/stdout', line: 'line 5' },
      { level: 'warn/stderr', line: 'trouble' },
    ]);
  });

  it('refuses a command outside the allow-list when the run is created', async () => {
    const t = await deck();
    for (const command of ['rm', '/bin/sh', 'sleep']) {
      await expect(
        t.deck.runs.create({
          job: 'exec',
          input: { command, args: ['-rf', '/tmp/nothing'] },
          principal: alice,
        }),
      ).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        details: expect.arrayContaining([
          expect.objectContaining({ path: ['input', 'command'] }),
        ]) as unknown,
      });
    }
    expect((await t.deck.runs.list({ job: 'exec' })).runs).toEqual([]);
  });

  it('passes no token to the command', async () => {
    const saved = { tokens: process.env.JOBDECK_TOKENS, token: process.env.JOBDECK_TOKEN };
    const secrets = ['tok-alice-8f3a91c2', 'tok-admin-77b0e4d1', 'tok-single-5c2e9a0f'];
    process.env.JOBDECK_TOKENS = `alice:${secrets[0]}:operator,root:${secrets[1]}:admin`;
    process.env.JOBDECK_TOKEN = secrets[2];
    try {
      const t = await deck();
      const id = await exec(t, 'env');
      expect((await waitForEnd(t, id)).status).toBe('completed');
      const lines = (await output(t, id)).map((o) => o.line);
      expect(lines.some((line) => line.startsWith('PATH='))).toBe(true);
      expect(lines.filter((line) => line.includes('JOBDECK'))).toEqual([]);
      expect(lines.filter((line) => secrets.some((s) => line.includes(s)))).toEqual([]);
      await expect(
        t.deck.runs.create({
          job: 'exec',
          input: { command: 'env', env: { JOBDECK_TOKEN: 'x' } },
          principal: alice,
        }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      for (const [key, value] of [
        ['JOBDECK_TOKENS', saved.tokens],
        ['JOBDECK_TOKEN', saved.token],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('graceful cancel sends SIGINT to the command, then the run ends cancelled', async () => {
    const t = await deck();
    const id = await exec(t, 'sh', ['-c', 'trap "echo got INT; exit 0" INT; sleep 30 & wait']);
    const pid = await commandPid(t, id);
    await pollUntil(() => processGroupMembers(pid).length >= 2, {
      what: 'the sleep to be running',
      timeoutMs: EVENT_DEADLINE_MS,
    });
    const { run, action } = await t.deck.cancels.cancel(id, { mode: 'graceful' }, alice);
    expect(action).toBe('request');
    expect(run.status).toBe('cancelling');
    await waitForLog(t, id, 'got INT');
    const done = await waitForEnd(t, id);
    expect(done).toMatchObject({ status: 'cancelled', attempt: 1, cancel: { mode: 'graceful' } });
    const messages = (await logsOf(t, id)).map((l) => l.message);
    expect(messages.indexOf('sending SIGINT to the command')).toBeLessThan(
      messages.indexOf('got INT'),
    );
    await pollUntil(() => !processGroupExists(pid), {
      what: `process group ${pid} to be gone`,
      timeoutMs: EVENT_DEADLINE_MS,
    });
  });

  it('a non-zero exit fails the run with EXEC_EXIT', async () => {
    const t = await deck();
    const id = await exec(t, 'sh', ['-c', 'echo about to fail; exit 3']);
    const done = await waitForEnd(t, id);
    expect(done).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { code: 'EXEC_EXIT', message: 'sh exited with code 3' },
    });
    expect((await output(t, id)).map((o) => o.line)).toEqual(['about to fail']);
  });
});
