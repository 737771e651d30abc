/**
 * A run's history of attempts over real HTTP: GET /api/runs/:id lists every attempt, the latest
 * included; lists, the job page and events leave the history out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newRunId } from '../../src/core/ids.js';
import { defineJob } from '../../src/jobs/define.js';
import { pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  closeAndCheckNoTokenLogged,
  createRun,
  gateJob,
  getRun,
  openEvents,
  waitForStatus,
} from './support.js';

const gates = new Gates();
const FLAKY = 'e2e.attempts.flaky';
const GATED = 'e2e.attempts.gated';
/** A job no worker of this server runs: its attempts are played through the store. */
const ELSEWHERE = 'e2e.attempts.elsewhere';

const flakyJob = defineJob({
  name: FLAKY,
  maxAttempts: 2,
  backoff: { base: 10, jitter: 0 },
  input: z.object({ n: z.number().int().default(0) }).default({ n: 0 }),
  run(ctx) {
    if (ctx.run.attempt === 1) throw new Error('first try fails');
    return { attempt: ctx.run.attempt };
  },
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer([flakyJob, gateJob(gates, { name: GATED })]);
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
});

const ms = (iso: string) => Date.parse(iso);

describe('GET /api/runs/:id attempts', () => {
  it('lists a failed attempt and the one that completed the run', async () => {
    const events = openEvents(server, { job: FLAKY }, { token: TEST_TOKENS.viewer });
    await events.opened;
    try {
      const created = await createRun(server, FLAKY, { input: {} });
      expect(created).not.toHaveProperty('attempts');
      const run = await waitForStatus(server, created.id, 'completed');
      const workerId = server.deck.worker!.id;
      expect(run.attempt).toBe(2);
      expect(run.attempts).toEqual([
        {
          attempt: 1,
          workerId,
          startedAt: expect.any(String),
          endedAt: expect.any(String),
          outcome: 'failed',
          error: { code: 'HANDLER_ERROR', message: 'first try fails' },
        },
        {
          attempt: 2,
          workerId,
          startedAt: run.startedAt,
          endedAt: run.finishedAt,
          outcome: 'completed',
          error: null,
        },
      ]);
      const [first, second] = run.attempts;
      expect(ms(first.startedAt)).toBeLessThanOrEqual(ms(first.endedAt));
      expect(ms(first.endedAt)).toBeLessThanOrEqual(ms(second.startedAt));

      // Events carry the run without its history.
      const finished = await events.waitFor(
        (e) => e.name === 'run.finished' && (e.data as { run: { id: string } }).run.id === run.id,
        'run.finished',
      );
      expect((finished.data as { run: object }).run).not.toHaveProperty('attempts');
      const retrying = await events.waitFor((e) => e.name === 'run.retrying', 'run.retrying');
      expect((retrying.data as { run: object }).run).not.toHaveProperty('attempts');

      // So do lists and the job page.
      const list = await server.request('GET', `/api/runs?job=${FLAKY}`, {
        token: TEST_TOKENS.viewer,
      });
      expect(list.status).toBe(200);
      expect(list.body.runs.map((r: { id: string }) => r.id)).toContain(run.id);
      for (const listed of list.body.runs) expect(listed).not.toHaveProperty('attempts');
      const job = await server.request('GET', `/api/jobs/${FLAKY}`, { token: TEST_TOKENS.viewer });
      for (const listed of job.body.runs) expect(listed).not.toHaveProperty('attempts');
    } finally {
      await events.close();
    }
  });

  it('shows the running attempt without an end or outcome, and none for a run not yet claimed', async () => {
    const key = gates.key();
    const created = await createRun(server, GATED, { input: { key } });
    await gates.get(key).entered.promise;
    const running = await getRun(server, created.id);
    expect(running.attempts).toEqual([
      {
        attempt: 1,
        workerId: server.deck.worker!.id,
        startedAt: running.startedAt,
        endedAt: null,
        outcome: null,
        error: null,
      },
    ]);
    gates.get(key).release.resolve();
    await waitForStatus(server, created.id, 'completed');

    const later = await createRun(server, GATED, {
      input: { key: gates.key() },
      runAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect((await getRun(server, later.id)).attempts).toEqual([]);
  });

  it('lists an attempt whose worker was lost, with the worker that held it', async () => {
    const store = server.deck.store;
    const id = newRunId();
    const now = new Date();
    await store.runInsert({
      id,
      job: ELSEWHERE,
      input: {},
      priority: 0,
      runAt: now,
      maxAttempts: 2,
      createdBy: 'alice',
      trigger: 'api',
      idempotencyKey: null,
      expireAt: null,
      retentionMs: 3600_000,
      retryOf: null,
      now,
      exclusive: false,
    });
    const jobs = [{ name: ELSEWHERE, concurrency: null }];
    // A worker elsewhere claims it with a lease that lapses at once; this server's rescuer takes it back.
    const [claimed] = await store.runClaim({
      workerId: 'worker-gone',
      now: null,
      leaseMs: 1,
      limit: 1,
      jobs,
    });
    expect(claimed?.id).toBe(id);
    const rescued = await pollUntil(
      async () => {
        const run = await getRun(server, id);
        // While the lease holds, the one attempt listed is the running one.
        return run.attempts[0]?.outcome === 'lost' ? run : undefined;
      },
      { what: 'the lost attempt to be recorded', intervalMs: 20 },
    );
    expect(['scheduled', 'pending']).toContain(rescued.status);
    expect(rescued.workerId).toBeNull();
    expect(rescued.attempts).toEqual([
      {
        attempt: 1,
        workerId: 'worker-gone',
        startedAt: claimed!.startedAt!.toISOString(),
        endedAt: expect.any(String),
        outcome: 'lost',
        error: { code: 'WORKER_LOST', message: expect.stringContaining('worker-gone') },
      },
    ]);
    expect(ms(rescued.attempts[0].endedAt)).toBeGreaterThan(claimed!.startedAt!.getTime());
  });
});
