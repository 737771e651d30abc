import type { Command } from 'commander';
import type { RunInfo } from '../client/client.js';
import { addClientOptions, clientFrom, handled, printJson, type ClientFlags } from './output.js';

/** What a pause did to the run, in words. */
export function pauseOutcome(action: string, run: RunInfo): string {
  const what = `${run.id} ${run.job}`;
  return (
    {
      'hold-now':
        run.attempt === 0
          ? `Paused ${what} before it started; \`jobdeck resume ${run.id}\` lets it run.`
          : `Paused ${what} at once: no handler was running (it was waiting for its child runs, or between tries); \`jobdeck resume ${run.id}\` lets it go on.`,
      request: `Pausing ${what}: the current step finishes, then it waits, holding no worker, until resumed.`,
      unchanged: `${what} is already paused.`,
    }[action] ?? `${what}: ${action}, now ${run.status}.`
  );
}

export function pauseCommands(program: Command): void {
  addClientOptions(
    program
      .command('pause <id>')
      .description('pause a run: the current step finishes, then it waits until resumed'),
  ).action(
    handled(async (id: string, flags: ClientFlags) => {
      const result = await clientFrom(flags).pause(id);
      if (flags.json) return printJson(result);
      process.stdout.write(`${pauseOutcome(result.action, result.run)}\n`);
    }),
  );
  addClientOptions(
    program
      .command('resume <id>')
      .description('resume a paused run: it goes on after its last completed step'),
  ).action(
    handled(async (id: string, flags: ClientFlags) => {
      const run = await clientFrom(flags).resume(id);
      if (flags.json) return printJson({ run });
      process.stdout.write(
        `Resumed ${run.id} ${run.job}: ${run.status}${run.status === 'pending' ? ', due now' : ''}.\n`,
      );
    }),
  );
}
