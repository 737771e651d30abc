import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineJob } from '../jobs/define.js';

/** Seed 001: a removal workflow in batches, with a checkpoint before each batch. */
export const demoBatches = defineJob({
  name: 'demo.batches',
  category: 'demo',
  description:
    'Processes `total` items in batches of `batchSize`, waiting `delayMs` between batches.',
  input: z
    .object({
      total: z.number().int().min(0).max(1_000_000).default(50),
      batchSize: z.number().int().positive().max(100_000).default(5),
      delayMs: z.number().int().min(0).max(3_600_000).default(1000),
      dryRun: z.boolean().default(true),
    })
    .strict(),
  maxAttempts: 1,
  async run(ctx, input) {
    let processed = 0;
    ctx.progress({ processed, total: input.total, message: input.dryRun ? 'dry run' : undefined });
    while (processed < input.total) {
      ctx.checkpoint();
      const batch = Math.min(input.batchSize, input.total - processed);
      processed += batch;
      ctx.log.info(`batch of ${batch} ${input.dryRun ? 'checked (dry run)' : 'removed'}`, {
        processed,
      });
      ctx.progress({ processed, total: input.total });
      if (processed < input.total) await delay(input.delayMs, undefined, { signal: ctx.signal });
    }
    return { processed, dryRun: input.dryRun };
  },
});

/** Seed 002: one session per node; nodes in `failNodes` fail; mixed outcomes end `partial`. */
export const demoNodes = defineJob({
  name: 'demo.nodes',
  category: 'demo',
  description:
    'Opens a simulated session on each node for `durationMs`, closing it cleanly even on cancel.',
  input: z
    .object({
      nodes: z.array(z.string().min(1).max(200)).min(1).max(1000),
      durationMs: z.number().int().min(0).max(3_600_000).default(2000),
      failNodes: z.array(z.string()).default([]),
    })
    .strict(),
  maxAttempts: 1,
  async run(ctx, input) {
    const summary = await ctx.forEach(
      input.nodes,
      async (node, { signal }) => {
        ctx.log.info(`session opened on ${node}`);
        try {
          await delay(input.durationMs, undefined, { signal });
          if (input.failNodes.includes(node)) throw new Error(`collection failed on ${node}`);
        } finally {
          ctx.log.info(`session closed on ${node}`);
        }
      },
      { key: (node) => node, concurrency: 4 },
    );
    return { succeeded: summary.succeeded, failed: summary.failed };
  },
});

/** Seed 004: sequential steps, for comparing a graceful stop with a forced one. */
export const demoSteps = defineJob({
  name: 'demo.steps',
  category: 'demo',
  description: 'Runs `steps` sequential steps of `stepMs` each.',
  input: z
    .object({
      steps: z.number().int().positive().max(10_000).default(5),
      stepMs: z.number().int().min(0).max(3_600_000).default(2000),
    })
    .strict(),
  maxAttempts: 1,
  async run(ctx, input) {
    for (let n = 1; n <= input.steps; n++) {
      await ctx.step(`step ${n}`, async (signal) => {
        ctx.log.info(`step ${n} started`);
        await delay(input.stepMs, undefined, { signal });
        ctx.log.info(`step ${n} ended`);
      });
      ctx.progress({ processed: n, total: input.steps });
    }
    return { steps: input.steps };
  },
});

/** Chained jobs: a parent fans out to demo.steps child runs and waits for them without a slot. */
export const demoFanout = defineJob({
  name: 'demo.fanout',
  category: 'demo',
  description:
    'Starts child runs of demo.steps (as many as `children`), waits for them all without holding a worker, then adds up their steps.',
  input: z
    .object({
      children: z.number().int().positive().max(100).default(3),
      steps: z.number().int().positive().max(10_000).default(3),
      stepMs: z.number().int().min(0).max(3_600_000).default(1000),
    })
    .strict(),
  maxAttempts: 1,
  async run(ctx, input) {
    const parts = [];
    for (let n = 1; n <= input.children; n++) {
      const part = { steps: input.steps, stepMs: input.stepMs };
      parts.push(await ctx.spawn(demoSteps.name, part, { key: `part ${n}` }));
    }
    const results = (await ctx.waitForAll(parts)) as { steps: number }[];
    return { children: results.length, steps: results.reduce((sum, r) => sum + r.steps, 0) };
  },
});

/** Seed 003: an hourly cache warm-up reporting progress in percent. */
export const demoCacheWarming = defineJob({
  name: 'demo.cache_warming',
  category: 'demo',
  description: 'Warms `items` cache entries every hour.',
  input: z.object({ items: z.number().int().min(0).max(1_000_000).default(200) }).strict(),
  schedule: { every: '1h', input: {} },
  allowConcurrent: false,
  async run(ctx, input) {
    const chunk = Math.max(1, Math.ceil(input.items / 20));
    for (let done = 0; done < input.items; ) {
      ctx.checkpoint();
      done = Math.min(input.items, done + chunk);
      ctx.progress({
        percent: (done / input.items) * 100,
        message: `${done}/${input.items} warmed`,
      });
      await delay(50, undefined, { signal: ctx.signal });
    }
    ctx.log.info('cache warm', { items: input.items });
    return { warmed: input.items };
  },
});

export const demoJobs = [demoBatches, demoNodes, demoSteps, demoFanout, demoCacheWarming];
