import type { Command } from 'commander';
import { RUN_STATUSES, type RunStatus } from '../core/status.js';
import {
  addClientOptions,
  clientFrom,
  describeRun,
  handled,
  printJson,
  printTable,
  timeFlag,
  type ClientFlags,
} from './output.js';

interface RunsFlags extends ClientFlags {
  status?: string;
  job?: string;
  createdBy?: string;
  from?: string;
  to?: string;
  id?: string;
  parent?: string;
  total?: boolean;
  limit?: string;
}

export function runsCommand(program: Command): void {
  addClientOptions(
    program
      .command('runs')
      .description('list runs, newest first')
      .option('--status <list>', `comma-separated: ${RUN_STATUSES.join(',')}`)
      .option('--job <name>', 'only runs of this job')
      .option('--created-by <principal>', 'only runs started by this principal')
      .option('--from <time>', 'created at or after: ISO 8601, or a duration ago (2h, 7d)')
      .option('--to <time>', 'created before: ISO 8601, or a duration ago')
      .option('--id <id>', 'a run id or the start of one')
      .option('--parent <id>', 'only the child runs of this run')
      .option('--total', 'also count every run that matches (exact up to 10,000)')
      .option('--limit <n>', 'how many', '20'),
  ).action(
    handled(async (flags: RunsFlags) => {
      const status = flags.status
        ? (flags.status.split(',').map((s) => s.trim()) as RunStatus[])
        : undefined;
      const page = await clientFrom(flags).runs({
        ...(status ? { status } : {}),
        ...(flags.job ? { job: flags.job } : {}),
        ...(flags.createdBy ? { createdBy: flags.createdBy } : {}),
        ...(flags.from ? { from: timeFlag(flags.from)! } : {}),
        ...(flags.to ? { to: timeFlag(flags.to)! } : {}),
        ...(flags.id ? { q: flags.id } : {}),
        ...(flags.parent ? { parentId: flags.parent } : {}),
        ...(flags.total ? { total: true } : {}),
        limit: Number(flags.limit ?? 20),
      });
      if (flags.json) return printJson(page);
      if (page.total !== undefined) {
        const one = page.total === 1 && !page.totalIsCapped;
        process.stdout.write(
          `${page.total}${page.totalIsCapped ? '+' : ''} ${one ? 'run matches' : 'runs match'}\n`,
        );
      }
      printTable([
        ['ID', 'JOB', 'STATUS', 'PROGRESS', 'ATTEMPT', 'CREATED'],
        ...page.runs.map((run) => [
          run.id,
          run.job,
          run.status,
          run.progress?.percent != null ? `${run.progress.percent}%` : '-',
          `${run.attempt}/${run.maxAttempts}`,
          run.createdAt,
        ]),
      ]);
    }),
  );

  addClientOptions(program.command('run <id>').description('show one run')).action(
    handled(async (id: string, flags: ClientFlags) => {
      const run = await clientFrom(flags).run(id);
      if (flags.json) return printJson(run);
      process.stdout.write(describeRun(run) + '\n');
      if (run.parentId) process.stdout.write(`parent: ${run.parentId}\n`);
      if (run.steps.length > 0) process.stdout.write('steps:\n');
      for (const step of run.steps)
        process.stdout.write(
          `  ${step.name}: ${step.status} (attempt ${step.attempt})${step.error ? ` ${step.error.message}` : ''}\n`,
        );
      if (run.items.length > 0 && run.steps.length > 0) process.stdout.write('items:\n');
      for (const item of run.items)
        process.stdout.write(
          `  ${item.key}: ${item.status}${item.error ? ` (${item.error.message})` : ''}\n`,
        );
      if (run.children.length > 0) process.stdout.write('children:\n');
      if (run.earlierChildrenOmitted)
        process.stdout.write(
          `  (earlier children not shown: jobdeck runs --parent ${run.id} lists them all)\n`,
        );
      for (const child of run.children)
        process.stdout.write(
          `  ${child.id} ${child.job}: ${child.status}${child.finishedAt ? ` (ended ${child.finishedAt})` : ''}\n`,
        );
    }),
  );
}
