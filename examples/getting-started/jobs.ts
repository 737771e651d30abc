import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { defineJob } from 'jobdeck';
import { z } from 'zod';

export const report = defineJob({
  name: 'report.monthly',
  category: 'reports',
  description: 'Builds the monthly report for one customer.',
  input: z.object({ customerId: z.string(), months: z.number().int().min(1).max(24) }),
  timeout: '10m',
  maxAttempts: 3,
  async run(ctx, input) {
    const months = Array.from({ length: input.months }, (_, i) => i + 1);
    let done = 0;
    const summary = await ctx.forEach(
      months,
      async (month, { signal }) => {
        await delay(100, undefined, { signal }); // pass the signal to anything that waits
        ctx.log.info('month done', { month });
        ctx.progress({ processed: ++done, total: input.months });
      },
      { key: (month) => `month-${month}`, concurrency: 2 },
    );
    const file = await ctx.step('write', (signal) =>
      writeReport(input.customerId, summary, signal),
    );
    return { file, months: summary.succeeded };
  },
});

/** Your own code: here, the report as a JSON file in the system's temporary folder. */
async function writeReport(customerId: string, report: object, signal: AbortSignal) {
  const folder = join(tmpdir(), 'jobdeck-reports');
  await mkdir(folder, { recursive: true });
  const file = join(folder, `${customerId}.json`);
  await writeFile(file, JSON.stringify(report, null, 2), { signal });
  return file;
}
