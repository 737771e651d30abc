import { defineJob } from 'jobdeck';
import { z } from 'zod';

export const removal = defineJob({
  name: 'removal_workflow',
  category: 'groups',
  input: z.object({ groupId: z.string(), batchSize: z.number().int().positive() }),
  timeout: '30m',
  maxAttempts: 3,
  async run(ctx, input) {
    const members = await ctx.step('sync', () => syncMembers(input.groupId, ctx.signal));
    await ctx.forEach(chunk(members, input.batchSize), (batch) => removeBatch(batch, ctx.signal), {
      key: (_, index) => `batch-${index}`,
    });
    ctx.log.info('done');
    return { removed: members.length };
  },
});

// The README's job (a module for `jobdeck serve --jobs`); below, stand-ins for your own code.

interface Member {
  id: string;
}

async function syncMembers(groupId: string, signal: AbortSignal): Promise<Member[]> {
  signal.throwIfAborted();
  return Array.from({ length: 5 }, (_, i) => ({ id: `${groupId}-member-${i + 1}` }));
}

async function removeBatch(batch: Member[], signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  await Promise.resolve(batch);
}

function chunk<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}
