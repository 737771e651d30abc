import type { Command } from 'commander';
import type { WorkerInfo } from '../client/client.js';
import {
  addClientOptions,
  clientFrom,
  handled,
  printJson,
  printTable,
  type ClientFlags,
} from './output.js';

export function workersCommand(program: Command): void {
  addClientOptions(
    program
      .command('workers')
      .description('list the instances (API, worker or both), alive or lost, and what they run'),
  ).action(
    handled(async (flags: ClientFlags) => {
      const workers = await clientFrom(flags).workers();
      if (flags.json) return printJson(workers);
      printTable([
        ['ID', 'ROLE', 'STATE', 'HOST', 'PID', 'VERSION', 'CONCURRENCY', 'RUNS', 'LAST SEEN'],
        ...workers.map((worker) => [
          worker.id,
          worker.role,
          worker.state,
          worker.host,
          String(worker.pid),
          worker.version,
          worker.concurrency === null ? '-' : String(worker.concurrency),
          describeRuns(worker),
          worker.lastSeenAt,
        ]),
      ]);
    }),
  );
}

/** How many runs an instance executes, and of which jobs. */
function describeRuns(worker: WorkerInfo): string {
  if (worker.runs.length === 0) return '0';
  const jobs = [...new Set(worker.runs.map((run) => run.job))].join(',');
  return `${worker.runs.length} (${jobs})`;
}
