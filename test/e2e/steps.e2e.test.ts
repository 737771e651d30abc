/**
 * Durable steps over real HTTP: GET /api/runs/:id shows the newest 1,000 steps of a run that has
 * more, and says the earlier ones are left out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/jobs/define.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createRun, getRun, waitForStatus } from './support.js';

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

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer([manyStepsJob]);
});
afterAll(async () => {
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
});
