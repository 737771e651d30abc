import type { Command } from 'commander';
import type { RunInfo } from '../client/client.js';
import { isTerminal } from '../core/status.js';
import { addClientOptions, clientFrom, handled, printJson, type ClientFlags } from './output.js';

interface CancelFlags extends ClientFlags {
  force?: boolean;
  reason?: string;
}

/** What a cancel did to the run, in words, then who asked and why (the recorded cancel). */
export function cancelOutcome(action: string, run: RunInfo): string {
  const what = `${run.id} ${run.job}`;
  const sentence =
    {
      'cancel-now':
        run.attempt === 0
          ? `Cancelled ${what} before it started.`
          : `Cancelled ${what} at once: no handler was running (it was paused, waiting for its child runs, or between tries).`,
      request: `Stopping ${what} gracefully: the current step finishes and no new one starts.`,
      force: isTerminal(run.status)
        ? `Stopped ${what} by force: it is ${run.status}; its handler was aborted and its cleanups run.`
        : `Stopping ${what} by force: its handler is aborted now.`,
      unchanged:
        run.status === 'cancelling'
          ? `${what} is already stopping (${run.cancel?.mode ?? 'graceful'}); --force stops it at once.`
          : `${what} is already ${run.status}.`,
    }[action] ?? `${what}: ${action}, now ${run.status}.`;
  if (!run.cancel) return sentence;
  const { requestedBy, reason } = run.cancel;
  return `${sentence} Asked by ${requestedBy}${reason ? `: ${reason.replace(/\.$/, '')}` : ', no reason given'}.`;
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
      process.stdout.write(`${cancelOutcome(result.action, result.run)}\n`);
    }),
  );
}
