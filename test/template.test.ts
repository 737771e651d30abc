// The test template of CONTRIBUTING.md: copy it to start a new test file.
import { afterEach, expect, it } from 'vitest';
import { defineJob } from '../src/jobs/define.js';
import { deferred, openTestDeck, type TestDeck } from './helpers/deck.js';

let t: TestDeck;
afterEach(() => t.close());

it('stops at the next checkpoint after a graceful cancel', async () => {
  const started = deferred();
  const job = defineJob({
    name: 'example',
    async run(ctx) {
      started.resolve();
      await ctx.step('one', () => new Promise((resolve) => setTimeout(resolve, 50)));
      ctx.checkpoint();
    },
  });
  t = await openTestDeck([job]);
  const { run } = await t.deck.runs.create({ job: 'example' });
  await started.promise;
  await t.deck.cancels.cancel(run.id, { mode: 'graceful' }, { name: 'system', role: 'admin' });
  expect((await t.waitForStatus(run.id, 'cancelled', 'completed')).status).toBe('cancelled');
});
