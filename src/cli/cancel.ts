import type { Command } from 'commander';
import {
  addClientOptions,
  clientFrom,
  describeRun,
  handled,
  printJson,
  type ClientFlags,
} from './output.js';

interface CancelFlags extends ClientFlags {
  force?: boolean;
  reason?: string;
}

export function cancelCommand(program: Command): void {
  addClientOptions(
    program
      .command('cancel <id>')
      .description(
        'stop a run: gracefully (the current step finishes) or with --force (aborted now)',
      )
      .option('--force', 'stop immediately')
      .option('--reason <text>', 'why, recorded with the cancel'),
  ).action(
    handled(async (id: string, flags: CancelFlags) => {
      const result = await clientFrom(flags).cancel(id, {
        mode: flags.force ? 'force' : 'graceful',
        ...(flags.reason ? { reason: flags.reason } : {}),
      });
      if (flags.json) return printJson(result);
      process.stdout.write(`${result.action}: ${describeRun(result.run)}\n`);
    }),
  );
}
