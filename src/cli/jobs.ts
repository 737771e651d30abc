import type { Command } from 'commander';
import {
  addClientOptions,
  clientFrom,
  handled,
  printJson,
  printTable,
  type ClientFlags,
} from './output.js';

export function jobsCommand(program: Command): void {
  addClientOptions(program.command('jobs').description('list the registered jobs')).action(
    handled(async (flags: ClientFlags) => {
      const jobs = await clientFrom(flags).jobs();
      if (flags.json) return printJson(jobs);
      printTable([
        ['NAME', 'CATEGORY', 'ENABLED', 'SCHEDULE', 'DESCRIPTION'],
        ...jobs.map((job) => [
          job.name,
          job.category,
          job.enabled ? 'yes' : 'no',
          job.schedule
            ? job.schedule.kind === 'every'
              ? `every ${job.schedule.everyMs / 1000}s`
              : job.schedule.cron
            : '-',
          job.description,
        ]),
      ]);
    }),
  );
}
