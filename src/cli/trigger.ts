import type { Command } from 'commander';
import {
  addClientOptions,
  clientFrom,
  describeRun,
  handled,
  printJson,
  type ClientFlags,
} from './output.js';

interface TriggerFlags extends ClientFlags {
  input?: string;
  runAt?: string;
  priority?: string;
  idempotencyKey?: string;
}

export function triggerCommand(program: Command): void {
  addClientOptions(
    program
      .command('trigger <job>')
      .description('start a run of a job')
      .option('--input <json>', 'the run input as JSON', '{}')
      .option('--run-at <time>', 'start no earlier than this ISO time')
      .option('--priority <n>', 'higher runs first')
      .option(
        '--idempotency-key <key>',
        'a second trigger with the same key returns the first run',
      ),
  ).action(
    handled(async (job: string, flags: TriggerFlags) => {
      let input: unknown;
      try {
        input = JSON.parse(flags.input ?? '{}');
      } catch {
        throw new Error(`--input is not valid JSON: ${flags.input}`);
      }
      const { run, created } = await clientFrom(flags).trigger(job, {
        input,
        ...(flags.runAt ? { runAt: flags.runAt } : {}),
        ...(flags.priority ? { priority: Number(flags.priority) } : {}),
        ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
      });
      if (flags.json) return printJson({ run, created });
      process.stdout.write(`${created ? 'started' : 'already existed'}: ${describeRun(run)}\n`);
    }),
  );
}
