/**
 * Durable steps over real HTTP: GET /api/runs/:id shows the newest 1,000 steps of a run that has
 * more, and says the earlier ones are left out; a step its attempt never finished shows so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import { Gates, createRun, gateJob, getRun, waitForStatus } from './support.js';

const MANY = 'e2e.many-steps';
const manyStepsJob = defineJob({
  name: MANY,
  maxAttempts: 1,
  input: z.object({ steps: z.number().int().min(1).max(2000) }),
  async run(ctx, input) {
    for (let n = 1; n <= input.steps; n++) await ctx.step(`step ${n}`, () => n);
    return { steps: input.steps };
  },
});

const gates = new Gates();
const HELD = 'e2e.held-step';
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer([manyStepsJob, gateJob(gates, { name: HELD })]);
});
afterAll(async () => {
  gates.releaseAll();
  await server.close();
});

describe('the steps of GET /api/runs/:id', () => {
  it('a run of 1,005 steps shows the newest 1,000, in order, and says earlier ones are left out', async () => {
    const { id } = await createRun(server, MANY, { input: { steps: 1005 } });
    await waitForStatus(server, id, 'completed');
    const run = await getRun(server, id);
    expect(run.earlierStepsOmitted).toBe(true);
    expect(run.steps).toHaveLength(1000);
    expect(run.steps[0]).toMatchObject({ name: 'step 6', status: 'completed', attempt: 1 });
    expect(run.steps.at(-1)).toMatchObject({ name: 'step 1005', status: 'completed' });
  });

  it('a run of a few steps shows them all', async () => {
    const { id } = await createRun(server, MANY, { input: { steps: 3 } });
    await waitForStatus(server, id, 'completed');
    const run = await getRun(server, id);
    expect(run.earlierStepsOmitted).toBe(false);
    expect(run.steps.map((step: { name: string }) => step.name)).toEqual([
      'step 1',
      'step 2',
      'step 3',
    ]);
  });

  it('a step still running when its run is stopped by force shows failed, STEP_INTERRUPTED', async () => {
    const key = gates.key('held');
    const { id } = await createRun(server, HELD, { input: { key, steps: 1 } });
    await gates.get(key).entered.promise;
    expect((await getRun(server, id)).steps).toEqual([
      expect.objectContaining({ name: 'step 1', status: 'running', attempt: 1, error: null }),
    ]);
    const cancelled = await server.request('POST', `/api/runs/${id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'force' },
    });
    expect(cancelled.status).toBe(200);
    await waitForStatus(server, id, 'cancelled');
    expect((await getRun(server, id)).steps).toEqual([
      expect.objectContaining({
        name: 'step 1',
        status: 'failed',
        attempt: 1,
        error: { code: 'STEP_INTERRUPTED', message: 'Attempt 1 ended before this step did.' },
      }),
    ]);
  });
});
