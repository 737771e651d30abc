// Durable steps: a retry goes on after the last completed step. Run: node --import tsx examples/durable-steps.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineJob, Jobdeck, SqliteStore } from 'jobdeck';
import { z } from 'zod';

/** How often each step's function ran: what a retry would repeat without durable steps. */
const calls = { export: 0, upload: 0, notify: 0 };
let uploadFailures = 1;

export const monthlyExport = defineJob({
  name: 'example.export',
  input: z.object({ month: z.string() }),
  maxAttempts: 3,
  backoff: { base: '100ms' },
  async run(ctx, { month }) {
    // Expensive, and done once: a retry gets the stored result back.
    const file = await ctx.step('export', () => {
      calls.export++;
      return { path: `/exports/${month}.csv`, rows: 1200 };
    });
    // Fails on the first attempt, as a flaky remote system would.
    const url = await ctx.step('upload', () => {
      calls.upload++;
      if (uploadFailures-- > 0) throw new Error('upload timed out');
      return `https://files.example.com${file.path}`;
    });
    await ctx.step('notify', () => {
      calls.notify++;
    });
    return { url, rows: file.rows };
  },
});

const dir = mkdtempSync(join(tmpdir(), 'jobdeck-steps-'));
const deck = new Jobdeck({
  store: new SqliteStore({ path: join(dir, 'jobdeck.db') }),
  jobs: [monthlyExport],
});
await deck.start();
try {
  const { run } = await deck.runs.create({ job: 'example.export', input: { month: '2026-11' } });
  const done = await deck.runs.wait(run.id, { timeoutMs: 30_000 });
  console.log(`${done.status} after ${done.attempt} attempts: ${JSON.stringify(done.result)}`);
  console.log(`calls: ${JSON.stringify(calls)}`);
  for (const step of await deck.runs.steps(run.id))
    console.log(`step ${step.name}: ${step.status} (attempt ${step.attempt})`);
} finally {
  await deck.stop();
  rmSync(dir, { recursive: true, force: true });
}
