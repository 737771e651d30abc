import type { Command } from 'commander';
import type { JobInfo } from '../client/client.js';
import { writtenDuration } from '../core/duration.js';
import {
  addClientOptions,
  clientFrom,
  handled,
  printJson,
  printTable,
  type ClientFlags,
} from './output.js';

/** A schedule as it is written in the job's options: `every 1h`, `cron 0 3 * * * (Europe/Paris)`. */
function scheduleText(schedule: JobInfo['schedule']): string {
  if (!schedule) return '-';
  if (schedule.kind === 'every') return `every ${writtenDuration(schedule.everyMs)}`;
  return `cron ${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : ''}`;
}

/** A description on one line of a table: without markdown's code marks or line breaks. */
function plainText(text: string): string {
  return text.replaceAll('`', '').replace(/\s+/g, ' ').trim();
}

export function jobsCommand(program: Command): void {
  addClientOptions(program.command('jobs').description('list the registered jobs')).action(
    handled(async (flags: ClientFlags) => {
      const jobs = await clientFrom(flags).jobs();
      if (flags.json) return printJson(jobs);
      printTable([
        ['NAME', 'CATEGORY', 'ENABLED', 'SCHEDULE', 'RATE', 'DESCRIPTION'],
        ...jobs.map((job) => [
          job.name,
          job.category,
          job.enabled ? 'yes' : 'no',
          scheduleText(job.schedule),
          job.rateLimit ? `${job.rateLimit.max}/${writtenDuration(job.rateLimit.perMs)}` : '-',
          plainText(job.description),
        ]),
      ]);
    }),
  );
}
