// Graceful and forced stops, inline and in a thread. Run: node --import tsx examples/cancellation.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { Jobdeck, SqliteStore, defineJob, type Principal, type RunStatus } from '../src/index.js';

/** Signal-aware steps: a graceful stop lets the current step finish; a forced one aborts the wait. */
export const copyFiles = defineJob({
  name: 'example.copy',
  input: z.object({ files: z.number().int().positive() }),
  async run(ctx, { files }) {
    ctx.onCancel((reason) =>
      ctx.log.info(`cleanup after a ${reason.mode} stop: temporary files removed`),
    );
    for (let n = 1; n <= files; n++) {
      await ctx.step(`file ${n}`, async (signal) => {
        await delay(100, undefined, { signal });
        ctx.log.info(`copied file ${n}`);
      });
      ctx.progress({ processed: n, total: files });
    }
    return { copied: files };
  },
});

/** A CPU-bound handler that never looks at its signal: only a thread (or process) can be stopped. */
export const crunch = defineJob({
  name: 'example.crunch',
  isolation: 'thread',
  module: import.meta.url,
  forceGrace: '1s',
  run(ctx) {
    ctx.log.info('crunching');
    let x = 0;
    for (;;) x += Math.sqrt(x + 1);
  },
});

const admin: Principal = { name: 'example', role: 'admin' };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'jobdeck-example-'));
  const deck = await new Jobdeck({
    store: new SqliteStore({ path: join(dir, 'example.db') }),
    jobs: [copyFiles, crunch],
  }).start();
  const waitFor = async (id: string, ...statuses: RunStatus[]) => {
    for (;;) {
      const run = await deck.runs.get(id);
      if (statuses.includes(run.status)) return run;
      await delay(20);
    }
  };
  const messages = async (id: string) => (await deck.runs.logs(id)).map((l) => l.message);

  // 1. Graceful: the file in progress is finished, no new one starts, progress is kept.
  const graceful = (await deck.runs.create({ job: 'example.copy', input: { files: 20 } })).run;
  await delay(250);
  await deck.cancels.cancel(graceful.id, { mode: 'graceful', reason: 'enough for today' }, admin);
  const g = await waitFor(graceful.id, 'cancelled', 'completed');
  console.log(`graceful: ${g.status} after ${g.progress?.processed} of 20 files`);
  console.log(`  logs: ${(await messages(graceful.id)).join(' | ')}`);

  // 2. Force: the wait in progress is aborted now and the cleanup runs.
  const forced = (await deck.runs.create({ job: 'example.copy', input: { files: 20 } })).run;
  await delay(250);
  const { run: f } = await deck.cancels.cancel(
    forced.id,
    { mode: 'force', reason: 'wrong folder' },
    admin,
  );
  console.log(`force: ${f.status} at once`);
  await delay(200);
  console.log(`  logs: ${(await messages(forced.id)).join(' | ')}`);

  // 3. A handler that ignores its signal, in a thread: terminated after forceGrace.
  const busy = (await deck.runs.create({ job: 'example.crunch' })).run;
  await waitFor(busy.id, 'running');
  await delay(300);
  const started = Date.now();
  await deck.cancels.cancel(busy.id, { mode: 'force' }, admin);
  while (deck.worker!.activeCount > 0) await delay(20);
  console.log(
    `thread: ${(await deck.runs.get(busy.id)).status}; its slot was free again after ${Date.now() - started} ms`,
  );

  await deck.close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
