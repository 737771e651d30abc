import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../src/jobs/define.js';
import type { Jobdeck } from '../../src/jobdeck.js';
import { gatedStepsJobs } from '../fixtures/isolated-jobs.js';
import { pollUntil } from '../helpers/poll.js';
import { tempDir } from '../helpers/temp.js';
import { admin, operator, useInstances, type RuntimeConformanceContext } from './fixture.js';

/**
 * Pause and resume through real instances: a pause asked from another instance reaches the
 * handler with the heartbeat, lands at the step boundary, frees the worker's slot, and a resume
 * goes on after the last completed step.
 */
export function describePause(ctx: RuntimeConformanceContext): void {
  describe('pause and resume', () => {
    const instances = useInstances(ctx.makeDatabase);
    let cleanupDir: (() => void) | null = null;
    afterEach(() => {
      cleanupDir?.();
      cleanupDir = null;
    });

    const other = defineJob({ name: 'other', run: () => 'other done' });

    /** A worker of concurrency 1 and an API-only instance that asks for the pause. */
    async function setUp(isolation: 'inline' | 'thread') {
      const { dir, cleanup } = tempDir('jobdeck-pause-');
      cleanupDir = cleanup;
      const paths = { ledger: join(dir, 'ledger'), gate: join(dir, 'gate') };
      writeFileSync(paths.ledger, '');
      const jobs = [...gatedStepsJobs, other];
      const worker = await instances().open(jobs, {
        worker: { pollMs: 20, cancelPollMs: 20, heartbeatMs: 100, leaseMs: 2000, concurrency: 1 },
      });
      const api = await instances().open(jobs, { worker: false, maintenance: false });
      const { run } = await api.runs.create({
        job: `gated-steps.${isolation}`,
        input: paths,
        principal: operator,
      });
      const starts = () =>
        readFileSync(paths.ledger, 'utf8')
          .split('\n')
          .filter((line) => line.startsWith(run.id))
          .map((line) => line.slice(run.id.length + 1));
      await pollUntil(() => starts().includes('step 2'), { what: 'step 2 to start' });
      return { worker, api, run, paths, starts };
    }

    /** Ask for the pause while step 2 runs; the run goes on until its handler has learnt it. */
    async function pauseDuringStep2(api: Jobdeck, runId: string) {
      const { action, run } = await api.runs.pause(runId, operator);
      expect(action).toBe('request');
      expect(run).toMatchObject({ status: 'running', pause: { requestedBy: 'alice' } });
      await pollUntil(
        async () =>
          (await api.runs.logs(runId)).some((l) => l.message === 'pause delivered') || undefined,
        { what: 'the pause to reach the handler' },
      );
      expect((await api.runs.get(runId)).status).toBe('running');
    }

    for (const isolation of ['inline', 'thread'] as const) {
      it(`${isolation}: paused after step 2 ends, the slot is free meanwhile, and a resume runs steps 3–5 once each`, async () => {
        const { api, run, paths, starts } = await setUp(isolation);
        await pauseDuringStep2(api, run.id);
        writeFileSync(paths.gate, '');
        const paused = await instances().waitForStatus(api, run.id, 'paused', 'completed');
        expect(paused).toMatchObject({
          status: 'paused',
          workerId: null,
          leaseExpiresAt: null,
          attempt: 1,
          maxAttempts: 2,
        });
        expect(paused.attempts.map((a) => a.outcome)).toEqual(['paused']);
        expect(starts()).toEqual(['step 1', 'step 2']);
        expect((await api.runs.steps(run.id)).map((s) => [s.name, s.status])).toEqual([
          ['step 1', 'completed'],
          ['step 2', 'completed'],
        ]);
        // The worker (concurrency 1) holds no slot for the paused run: another run goes through.
        const { run: next } = await api.runs.create({ job: 'other', principal: admin });
        expect(await instances().waitForStatus(api, next.id, 'completed')).toMatchObject({
          result: 'other done',
        });
        expect((await api.runs.get(run.id)).status).toBe('paused');

        const resumed = await api.runs.resume(run.id, operator);
        expect(resumed).toMatchObject({ status: 'pending', pause: null });
        const done = await instances().waitForStatus(api, run.id, 'completed', 'failed');
        expect(done).toMatchObject({ status: 'completed', attempt: 2, result: 'all five' });
        expect(starts()).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'step 5']);
        const logs = (await api.runs.logs(run.id)).map((l) => l.message);
        expect(logs.filter((m) => m === 'cleanup')).toHaveLength(1);
      });
    }

    it('a paused run is cancelled at once, and none of its steps runs again', async () => {
      const { api, run, paths, starts } = await setUp('inline');
      await pauseDuringStep2(api, run.id);
      writeFileSync(paths.gate, '');
      await instances().waitForStatus(api, run.id, 'paused', 'completed');
      const { action, run: cancelled } = await api.cancels.cancel(run.id, {}, operator);
      expect(action).toBe('cancel-now');
      expect(cancelled.status).toBe('cancelled');
      await expect(api.runs.resume(run.id, operator)).rejects.toMatchObject({
        code: 'RUN_FINISHED',
      });
      // The worker is free and idle: another run completes, and the ledger has nothing more.
      const { run: next } = await api.runs.create({ job: 'other', principal: admin });
      await instances().waitForStatus(api, next.id, 'completed');
      expect(starts()).toEqual(['step 1', 'step 2']);
      expect(existsSync(paths.gate)).toBe(true);
    });

    it('a pending run paused before a worker takes it is held, then runs from the start once resumed', async () => {
      const { dir, cleanup } = tempDir('jobdeck-pause-');
      cleanupDir = cleanup;
      const paths = { ledger: join(dir, 'ledger'), gate: join(dir, 'gate') };
      writeFileSync(paths.ledger, '');
      writeFileSync(paths.gate, '');
      const jobs = [...gatedStepsJobs, other];
      const api = await instances().open(jobs, { worker: false, maintenance: false });
      const { run } = await api.runs.create({
        job: 'gated-steps.inline',
        input: paths,
        principal: operator,
      });
      expect((await api.runs.pause(run.id, operator)).run.status).toBe('paused');
      await instances().open(jobs);
      const { run: next } = await api.runs.create({ job: 'other', principal: admin });
      await instances().waitForStatus(api, next.id, 'completed');
      expect((await api.runs.get(run.id)).status).toBe('paused');
      await api.runs.resume(run.id, admin);
      const done = await instances().waitForStatus(api, run.id, 'completed', 'failed');
      expect(done).toMatchObject({ status: 'completed', attempt: 1 });
    });
  });
}
