/**
 * The text of every /jobs command, answered by the commands module over a real instance (SQLite,
 * a worker) whose clock is a test clock, so times in the answers are exact.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CHAT_HELP, runChatCommand, type ChatReply } from '../src/chatops/commands.js';
import { TestClock } from '../src/core/clock.js';
import type { Principal } from '../src/core/glossary.js';
import { defineJob } from '../src/jobs/define.js';
import { Jobdeck } from '../src/jobdeck.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { openTestDeck, type TestDeck } from './helpers/deck.js';
import { EVENT_DEADLINE_MS, pollUntil } from './helpers/poll.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const clock = new TestClock(T0);
const BASE = 'https://jobs.example';
const link = (id: string) => `${BASE}/dashboard/runs/${id}`;

const alice: Principal = { name: 'alice', role: 'operator' };
const bob: Principal = { name: 'bob', role: 'operator' };
const vera: Principal = { name: 'vera', role: 'viewer' };
const root: Principal = { name: 'root', role: 'admin' };

const slow = defineJob({
  name: 'reports.slow',
  category: 'reports',
  description: 'Builds the slow report',
  input: z.object({ total: z.number().int() }),
  maxAttempts: 1,
  async run(ctx, input) {
    ctx.progress({ processed: 3, total: input.total, message: 'third batch' });
    for (;;) {
      ctx.checkpoint();
      await delay(10, undefined, { signal: ctx.signal });
    }
  },
});
const broken = defineJob({
  name: 'reports.broken',
  category: 'reports',
  maxAttempts: 1,
  run() {
    // The attempt takes two seconds on the test clock.
    clock.advance(2000);
    throw new Error('disk full');
  },
});
const daily = defineJob({
  name: 'reports.daily',
  category: 'reports',
  schedule: { every: '1h' },
  canTrigger: false,
  enabled: false,
  run: () => ({}),
});
const cleanup = defineJob({
  name: 'ops.cleanup',
  category: 'ops',
  description: 'Removes old files',
  run: () => ({ removed: 3 }),
});

let t: TestDeck;
const ask = (principal: Principal | null, text: string, user?: string): Promise<ChatReply> =>
  runChatCommand(t.deck, { principal, text, ...(user ? { user } : {}) });
const say = async (principal: Principal | null, text: string) => (await ask(principal, text)).text;

// A fresh instance per test, so each answer lists exactly the runs the test made.
beforeEach(async () => {
  clock.set(T0);
  t = await openTestDeck([slow, broken, daily, cleanup], {
    clock,
    scheduler: false,
    publicUrl: `${BASE}/`,
    // Leases far longer than the minutes the test clock is moved: no run is rescued meanwhile.
    worker: {
      pollMs: 20,
      cancelPollMs: 20,
      heartbeatMs: 100,
      leaseMs: 86_400_000,
      concurrency: 20,
    },
  });
});
afterEach(async () => t.close());

/** A run of `job` started by `principal` through the API's service, in its final status. */
async function finished(job: string, principal: Principal, input: unknown = {}) {
  const { run } = await t.deck.runs.create({ job, input, principal });
  return t.waitForStatus(run.id, 'completed', 'failed');
}

/** A run of reports.slow by `principal`, running with its progress written. */
async function running(principal: Principal) {
  const { run } = await t.deck.runs.create({
    job: 'reports.slow',
    input: { total: 10 },
    principal,
  });
  return pollUntil(
    async () => {
      const current = await t.deck.runs.get(run.id);
      return current.status === 'running' && current.progress?.processed === 3 && current;
    },
    { what: `run ${run.id} running with progress`, timeoutMs: EVENT_DEADLINE_MS },
  );
}

/** A run of reports.slow by `principal` that ran `ms` on the test clock, then was stopped by force. */
async function forced(principal: Principal, ms: number) {
  const run = await running(principal);
  clock.advance(ms);
  await t.deck.cancels.cancel(run.id, { mode: 'force' }, principal);
  return t.waitForStatus(run.id, 'cancelled');
}

describe('/jobs commands, as text', () => {
  it('help lists the commands and who you are', async () => {
    expect(await ask(alice, '/jobs help')).toEqual({
      text: [...CHAT_HELP, 'You are alice (operator).', `${BASE}/dashboard`].join('\n'),
      changed: false,
    });
    expect(CHAT_HELP.join('\n')).toBe(
      [
        '/jobs — what runs now, and the jobs',
        '/jobs active — running runs',
        '/jobs failed — the latest failed runs',
        '/jobs <job> — a job and its latest runs',
        '/jobs <category> — the jobs of a category',
        '/jobs <run> — one run, by id or the start of one',
        '/jobs run <job> [json input] — start a run (operator)',
        '/jobs cancel <run> [force] [reason] — stop a run: gracefully, or at once with force (its creator or an admin)',
        '/jobs help — this list',
      ].join('\n'),
    );
  });

  it('/jobs with nothing started: counts and the jobs by category', async () => {
    expect(await say(vera, '/jobs')).toBe(
      [
        'Jobdeck: nothing running or queued; 0 failed in the last 24 h',
        '4 jobs:',
        '• ops: ops.cleanup',
        '• reports: reports.broken, reports.daily (disabled), reports.slow',
        '/jobs active · /jobs failed · /jobs help',
        `${BASE}/dashboard`,
      ].join('\n'),
    );
  });

  it('/jobs counts what runs, stops and waits, and what failed', async () => {
    await finished('reports.broken', bob);
    const run = await running(bob);
    const { run: waiting } = await t.deck.runs.create({
      job: 'ops.cleanup',
      runAt: new Date(clock.now().getTime() + 3600_000),
      principal: bob,
    });
    expect((await say(vera, '/jobs')).split('\n')[0]).toBe(
      'Jobdeck: 1 running, 1 queued; 1 failed in the last 24 h',
    );
    await t.deck.cancels.cancel(run.id, { mode: 'graceful' }, bob);
    // The handler stops at its next checkpoint, within milliseconds: until then it is stopping.
    expect((await say(vera, '/jobs')).split('\n')[0]).toMatch(
      /^Jobdeck: (1 stopping, )?1 queued; 1 failed in the last 24 h$/,
    );
    await t.waitForStatus(run.id, 'cancelled');
    await t.deck.cancels.cancel(waiting.id, {}, bob);
    expect((await say(vera, '/jobs')).split('\n')[0]).toBe(
      'Jobdeck: nothing running or queued; 1 failed in the last 24 h',
    );
  });

  it('active and failed, when there are none', async () => {
    expect(await say(vera, '/jobs active')).toBe(`No run is active.\n${BASE}/dashboard/runs`);
    expect(await say(vera, '/jobs failed')).toBe(`No failed runs.\n${BASE}/dashboard/runs`);
  });

  it('/jobs active lists running runs with progress, time and owner', async () => {
    const first = await running(alice);
    clock.advance(5 * 60_000);
    const second = await running(bob);
    expect(await say(vera, '/jobs active')).toBe(
      [
        'Active runs (2):',
        '• reports.slow running 30% for under a minute · by bob',
        `  ${link(second.id)}`,
        '• reports.slow running 30% for 5 min · by alice',
        `  ${link(first.id)}`,
      ].join('\n'),
    );
  });

  it('/jobs active shows the ten newest and links to the rest', async () => {
    const runs = [];
    for (let i = 0; i < 11; i++) runs.push(await running(alice));
    const text = await say(vera, '/jobs active');
    expect(text.split('\n')).toEqual([
      'Active runs, the 10 newest:',
      ...runs
        .slice(1)
        .reverse()
        .flatMap((run) => [
          '• reports.slow running 30% for under a minute · by alice',
          `  ${link(run.id)}`,
        ]),
      `More: ${BASE}/dashboard/runs?status=running`,
    ]);
  });

  it('/jobs failed lists failed runs with their error, newest first', async () => {
    const first = await finished('reports.broken', bob);
    clock.advance(3 * 60_000);
    const second = await finished('reports.broken', alice);
    expect(await say(vera, '/jobs failed')).toBe(
      [
        'Failed runs (2):',
        '• reports.broken failed under a minute ago after 2 s · by alice · HANDLER_ERROR: disk full',
        `  ${link(second.id)}`,
        '• reports.broken failed 3 min ago after 2 s · by bob · HANDLER_ERROR: disk full',
        `  ${link(first.id)}`,
      ].join('\n'),
    );
  });

  it('/jobs run starts a run as the principal; its text names it and links to it', async () => {
    const reply = await ask(alice, '/jobs run ops.cleanup');
    const id = /^Started ops\.cleanup: (\S+) \(pending\)\n/.exec(reply.text)?.[1];
    expect(id, reply.text).toBeDefined();
    expect(reply).toEqual({
      text: `Started ops.cleanup: ${id} (pending)\n${link(id!)}`,
      changed: true,
    });
    const run = await t.waitForStatus(id!, 'completed');
    expect(run).toMatchObject({ createdBy: 'alice', trigger: 'manual' });

    // JSON input, with the curly quotes phones type.
    const typed = await ask(alice, '/jobs run reports.slow {“total”: 10}');
    const slowId = /^Started reports\.slow: (\S+) /.exec(typed.text)![1]!;
    expect(await t.deck.runs.get(slowId)).toMatchObject({
      input: { total: 10 },
      createdBy: 'alice',
    });
  });

  it('/jobs run refusals and mistakes are the API answers', async () => {
    expect(await say(vera, '/jobs run ops.cleanup')).toBe(
      'This needs the operator role; vera is viewer.',
    );
    expect(await say(alice, '/jobs run nope')).toBe('No job is registered as "nope".');
    expect(await say(alice, '/jobs run reports.daily')).toBe(
      'Job reports.daily cannot be started by hand.',
    );
    expect(await say(alice, '/jobs run')).toBe('Which job? /jobs run <job> [json input]');
    expect(await say(alice, '/jobs run reports.slow {total: 1}')).toMatch(
      /^The input is not JSON \(.+\)\. Example: \/jobs run reports\.slow \{"key": "value"\}$/,
    );
    expect(await say(alice, '/jobs run reports.slow {"total": "ten"}')).toBe(
      [
        'The input is not valid.',
        '• input.total: Invalid input: expected number, received string',
      ].join('\n'),
    );
    expect((await t.deck.runs.list()).runs).toEqual([]);
  });

  it('/jobs <job>: the job and its latest runs', async () => {
    const stopped = await forced(alice, 60_000);
    const run = await running(bob);
    clock.advance(2 * 60_000);
    expect(await say(vera, '/jobs reports.slow')).toBe(
      [
        'reports.slow (reports) · enabled',
        'Builds the slow report',
        'Latest runs:',
        '• running 30% for 2 min · by bob',
        `  ${link(run.id)}`,
        '• cancelled 2 min ago after 1 min · by alice',
        `  ${link(stopped.id)}`,
        'Start one: /jobs run reports.slow {…input}',
        `${BASE}/dashboard/jobs/reports.slow`,
      ].join('\n'),
    );
    expect(await say(vera, '/jobs reports.daily')).toBe(
      [
        'reports.daily (reports) · disabled · every 1 h',
        'No runs yet.',
        `${BASE}/dashboard/jobs/reports.daily`,
      ].join('\n'),
    );
  });

  it('/jobs <category>: its jobs and their last runs', async () => {
    const failed = await finished('reports.broken', alice);
    const stopped = await forced(bob, 90_000);
    clock.advance(60_000);
    expect(await say(vera, '/jobs reports')).toBe(
      [
        'reports: 3 jobs',
        '• reports.broken: last run failed 2 min ago after 2 s · by alice · HANDLER_ERROR: disk full',
        `  ${link(failed.id)}`,
        '• reports.daily: no runs yet',
        '• reports.slow: last run cancelled 1 min ago after 1 min · by bob',
        `  ${link(stopped.id)}`,
        `${BASE}/dashboard/jobs`,
      ].join('\n'),
    );
    expect(await say(vera, '/jobs ops')).toBe(
      ['ops: 1 job', '• ops.cleanup: no runs yet', `${BASE}/dashboard/jobs`].join('\n'),
    );
  });

  it('/jobs <run>: one run by its id, the start of it, or its dashboard link', async () => {
    const run = await running(alice);
    clock.advance(30_000);
    await t.deck.cancels.cancel(run.id, { mode: 'graceful', reason: 'wrong\ninput' }, root);
    await t.waitForStatus(run.id, 'cancelled');
    const expected = [
      'reports.slow cancelled under a minute ago after 30 s · by alice',
      `id ${run.id} · attempt 1/1`,
      'third batch',
      'cancel: graceful by root: wrong input',
      link(run.id),
    ].join('\n');
    expect(await say(vera, `/jobs ${run.id.slice(0, 23)}`)).toBe(expected);
    expect(await say(vera, `/jobs ${run.id.toUpperCase()}`)).toBe(expected);
    expect(await say(vera, `/jobs ${link(run.id)}`)).toBe(expected);
    expect(await say(vera, `/jobs <${link(run.id)}|the run>`)).toBe(expected);
  });

  it('cancel: graceful, again, then after the end', async () => {
    const run = await running(alice);
    const what = `reports.slow ${run.id}`;
    expect(await ask(alice, `/jobs cancel ${run.id.slice(0, 30)} not needed`)).toEqual({
      text: `Stopping ${what} gracefully: it stops at its next checkpoint, keeping what it did.\n${link(run.id)}`,
      changed: true,
    });
    expect((await t.deck.runs.get(run.id)).cancel).toMatchObject({
      mode: 'graceful',
      reason: 'not needed',
      requestedBy: 'alice',
    });
    // The handler stops at its next checkpoint, within milliseconds: until then it is stopping.
    const again = await ask(alice, `/jobs cancel ${run.id}`);
    expect([
      `${what} is already stopping (graceful). Add force to stop it at once.\n${link(run.id)}`,
      `${what} is already cancelled.\n${link(run.id)}`,
    ]).toContain(again.text);
    expect(again.changed).toBe(false);
    await t.waitForStatus(run.id, 'cancelled');
    expect(await say(alice, `/jobs cancel ${run.id} force`)).toBe(
      `${what} is already cancelled.\n${link(run.id)}`,
    );

    const done = await finished('ops.cleanup', alice);
    expect(await ask(alice, `/jobs cancel ${done.id}`)).toEqual({
      text: `Run ${done.id} has already ended: completed.\n${link(done.id)}`,
      changed: false,
    });
  });

  it('cancel by force, the run given by its dashboard link', async () => {
    const run = await running(alice);
    expect(await ask(alice, `/jobs cancel ${link(run.id)} force hung`)).toEqual({
      text: `Cancelled reports.slow ${run.id} by force: it was stopped at once.\n${link(run.id)}`,
      changed: true,
    });
    expect(await t.deck.runs.get(run.id)).toMatchObject({
      status: 'cancelled',
      cancel: { mode: 'force', reason: 'hung', requestedBy: 'alice' },
    });
  });

  it('cancel of a run that has not started', async () => {
    const { run } = await t.deck.runs.create({
      job: 'ops.cleanup',
      runAt: new Date(clock.now().getTime() + 3600_000),
      principal: bob,
    });
    expect(await say(bob, `/jobs ${run.id}`)).toBe(
      [
        'ops.cleanup scheduled starts in 1 h · by bob',
        `id ${run.id} · attempt ${run.attempt}/3`,
        link(run.id),
      ].join('\n'),
    );
    expect(await say(bob, `/jobs cancel ${run.id}`)).toBe(
      `Cancelled ops.cleanup ${run.id}: it had not started.\n${link(run.id)}`,
    );
  });

  it("cancel follows the API's roles and ownership, with its messages", async () => {
    const run = await running(alice);
    expect(await ask(bob, `/jobs cancel ${run.id} force`)).toEqual({
      text: `Only alice or an admin may cancel run ${run.id}.`,
      changed: false,
    });
    expect(await say(vera, `/jobs cancel ${run.id}`)).toBe(
      'This needs the operator role; vera is viewer.',
    );
    expect(
      await say({ name: 'telegram:999', role: 'viewer' }, `/jobs cancel ${run.id} force`),
    ).toBe('This needs the operator role; telegram:999 is viewer.');
    expect((await t.deck.runs.get(run.id)).status).toBe('running');
    expect(await say(root, `/jobs cancel ${run.id} force`)).toBe(
      `Cancelled reports.slow ${run.id} by force: it was stopped at once.\n${link(run.id)}`,
    );
  });

  it('cancel: ids that match no run, several, or are not ids', async () => {
    expect(await say(alice, '/jobs cancel')).toBe('Which run? /jobs cancel <run> [force] [reason]');
    expect(await say(alice, '/jobs cancel xyz')).toBe(
      '"xyz" is not a run id: give the id or its start.',
    );
    expect(await say(alice, '/jobs cancel ffffffff')).toBe(
      'No run has an id starting with ffffffff.',
    );
    const a = await running(alice);
    const b = await running(alice);
    const prefix = commonPrefix(a.id, b.id);
    expect(await say(alice, `/jobs cancel ${prefix}`)).toBe(
      [
        `${prefix} is the start of more than one run; give more of the id:`,
        `• ${b.id} reports.slow running`,
        `• ${a.id} reports.slow running`,
      ].join('\n'),
    );
    const c = await running(alice);
    expect(await say(alice, `/jobs cancel ${commonPrefix(prefix, c.id)}`)).toBe(
      [
        `${commonPrefix(prefix, c.id)} is the start of more than one run; give more of the id:`,
        `• ${c.id} reports.slow running`,
        `• ${b.id} reports.slow running`,
        '• …',
      ].join('\n'),
    );
    expect(await say(alice, `/jobs cancel ${a.id} ${'x'.repeat(1001)}`)).toBe(
      'The reason must be text of at most 1000 characters.',
    );
    expect((await t.deck.runs.get(a.id)).status).toBe('running');
  });

  it('unknown commands, other words, and Telegram commands addressed to a bot', async () => {
    expect(await say(vera, '/jobs nothing-here')).toBe(
      'No job, category or run is named "nothing-here". Send /jobs help for the commands.',
    );
    expect(await say(vera, '/jobs cafe')).toBe(
      'No job, category or run is named "cafe". Send /jobs help for the commands.',
    );
    expect(await say(vera, 'hello')).toBe(
      'Commands start with /jobs. Send /jobs help for the list.',
    );
    expect(await say(vera, '/jobsactive')).toBe(
      'Commands start with /jobs. Send /jobs help for the list.',
    );
    expect(await say(vera, '/jobs@JobdeckBot  ACTIVE')).toBe(
      `No run is active.\n${BASE}/dashboard/runs`,
    );
  });

  it('a chat user who may do nothing is told how to get in', async () => {
    expect(await ask(null, '/jobs active', 'telegram:42')).toEqual({
      text: 'Not allowed: telegram:42 is not mapped to a Jobdeck principal. An admin can add it to chatops.users.',
      changed: false,
    });
  });
});

describe('when the store does not answer', () => {
  it('the answer says so, without the driver text', async () => {
    const store = new PostgresStore({
      connectionString: 'postgres://jobdeck@127.0.0.1:1/nowhere',
      connectionTimeoutMs: 1000,
    });
    const deck = new Jobdeck({ store, jobs: [cleanup], worker: false, clock });
    try {
      for (const text of ['/jobs active', `/jobs cancel 0190a7c2`, '/jobs run ops.cleanup']) {
        expect(await runChatCommand(deck, { principal: alice, text })).toEqual({
          text: 'The store cannot be reached.',
          changed: false,
        });
      }
    } finally {
      await store.close();
    }
  });
});

/** The start two ids share (at least one character). */
function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(0, Math.max(i, 1));
}
