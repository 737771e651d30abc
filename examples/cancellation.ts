// Graceful and forced stops, inline and in a thread. Run: node --import tsx examples/cancellation.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { defineJob, Jobdeck, SqliteStore } from 'jobdeck';
import { z } from 'zod';

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

/** A stand-in for a client of a remote system whose calls take a signal. */
let openSessions = 0;
async function openSession({ signal }: { signal: AbortSignal }) {
  signal.throwIfAborted();
  openSessions++;
  return {
    copy: (page: number, options: { signal: AbortSignal }) => delay(50, page, options),
    close: async () => {
      openSessions--;
    },
  };
}

/** A resource opened for the run: closed by `finally` on every path, a forced stop included. */
export const sync = defineJob({
  name: 'example.sync',
  input: z.object({ pages: z.number().int().positive() }),
  forceGrace: '10s',
  async run(ctx, { pages }) {
    const session = await openSession({ signal: ctx.signal });
    ctx.onCancel(() => ctx.log.info('cancelled; the session is closed by finally'));
    try {
      for (let page = 1; page <= pages; page++) {
        ctx.checkpoint();
        await session.copy(page, { signal: ctx.signal });
        ctx.progress({ processed: page, total: pages });
      }
    } finally {
      await session.close();
    }
  },
});

/** A CPU-bound handler that never looks at its signal: only a thread (or process) can be stopped. */
export const crunch = defineJob({
  name: 'example.crunch',
  isolation: 'thread', // or 'process'
  module: import.meta.url, // the isolate imports this module to find the handler
  forceGrace: '1s',
  memoryLimitMb: 512, // thread only: exceeding it fails the attempt with ISOLATE_OUT_OF_MEMORY
  run(ctx) {
    ctx.log.info('crunching');
    let x = 0;
    for (;;) x += Math.sqrt(x + 1);
  },
});

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'jobdeck-example-'));
  const deck = await new Jobdeck({
    store: new SqliteStore({ path: join(dir, 'example.db') }),
    jobs: [copyFiles, sync, crunch],
  }).start();
  const messages = async (id: string) => (await deck.runs.logs(id)).map((l) => l.message);
  const started = (id: string) => deck.events.waitFor('run.progress', ({ run }) => run.id === id);
  const idle = async () => {
    while (deck.worker!.activeCount > 0) await delay(20);
  };

  // 1. Graceful: the file in progress is finished, no new one starts, progress is kept.
  const graceful = (await deck.runs.create({ job: 'example.copy', input: { files: 20 } })).run;
  await started(graceful.id);
  await deck.cancels.cancel(graceful.id, { mode: 'graceful', reason: 'enough for today' });
  const g = await deck.runs.wait(graceful.id);
  console.log(`graceful: ${g.status} after ${g.progress?.processed} of 20 files`);
  console.log(`  logs: ${(await messages(graceful.id)).join(' | ')}`);

  // 2. Force: the wait in progress is aborted now and the cleanup runs.
  const forced = (await deck.runs.create({ job: 'example.copy', input: { files: 20 } })).run;
  await started(forced.id);
  const { run: f } = await deck.cancels.cancel(forced.id, {
    mode: 'force',
    reason: 'wrong folder',
  });
  console.log(`force: ${f.status} at once`);
  await idle();
  console.log(`  logs: ${(await messages(forced.id)).join(' | ')}`);

  // 3. A session opened by the handler is closed by its finally, even on a forced stop.
  const copying = (await deck.runs.create({ job: 'example.sync', input: { pages: 100 } })).run;
  await started(copying.id);
  await deck.cancels.cancel(copying.id, { mode: 'force' });
  await idle();
  console.log(`sync: ${(await deck.runs.get(copying.id)).status}; sessions open: ${openSessions}`);

  // 4. A handler that ignores its signal, in a thread: terminated after forceGrace.
  const busy = (await deck.runs.create({ job: 'example.crunch' })).run;
  await deck.events.waitFor('run.log', ({ runId }) => runId === busy.id);
  const stoppedAt = Date.now();
  await deck.cancels.cancel(busy.id, { mode: 'force' });
  await idle();
  console.log(
    `thread: ${(await deck.runs.get(busy.id)).status}; its slot was free again after ${Date.now() - stoppedAt} ms`,
  );

  await deck.close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
