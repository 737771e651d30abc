/**
 * A `--jobs` module for the scheduler test (test/scheduler.postgres.test.ts): one job, `tick`, that
 * repeats every second and returns at once, so that the runs show which slots were inserted.
 */
import { defineJob } from '../../src/jobs/define.js';

export const TICK_JOB = 'tick';

export const tick = defineJob({
  name: TICK_JOB,
  schedule: { every: '1s' },
  maxAttempts: 1,
  async run() {
    return { pid: process.pid };
  },
});
