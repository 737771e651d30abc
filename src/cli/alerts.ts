import type { Command } from 'commander';
import {
  addClientOptions,
  clientFrom,
  handled,
  printJson,
  printTable,
  type ClientFlags,
} from './output.js';

export function alertsCommand(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('check an alerts file; list recent alerts; send a test message');

  alerts
    .command('check <file>')
    .description(
      'validate an alerts file (YAML) without starting anything: each problem with its line and field',
    )
    .action(async (file: string) => {
      // Loaded here, not for every command (see main.ts). An invalid file throws: main prints
      // each problem and exits 1.
      const { loadAlertsFile } = await import('../alerts/config.js');
      const config = loadAlertsFile(file);
      const channels = Object.entries(config.channels).map(([name, c]) => `${name} (${c.type})`);
      process.stdout.write(
        `${file}: OK: ${channels.length} channel(s)${channels.length ? ` ${channels.join(', ')}` : ''}; ${config.rules.length} rule(s)${config.rules.length ? ` ${config.rules.map((r) => r.name).join(', ')}` : ''}\n`,
      );
    });

  addClientOptions(
    alerts
      .command('list')
      .description('recent alerts, newest first, with the state of their deliveries')
      .option('--limit <n>', 'how many', '20'),
  ).action(
    handled(async (flags: ClientFlags & { limit: string }) => {
      const list = await clientFrom(flags).alerts({ limit: Number(flags.limit) });
      if (flags.json) return printJson(list);
      printTable([
        ['CREATED', 'RULE', 'EVENT', 'JOB', 'RUN', 'STATE', 'DELIVERIES'],
        ...list.map((alert) => [
          alert.createdAt,
          alert.rule,
          alert.event,
          alert.job,
          alert.runId ?? '-',
          alert.state,
          alert.deliveries.map((d) => `${d.channel}:${d.status}(${d.attempts.length})`).join(' ') ||
            '-',
        ]),
      ]);
    }),
  );

  addClientOptions(
    alerts
      .command('test <channel>')
      .description("send a test message through a channel of the server's alerts file (admin)")
      .option('--message <text>', 'the text to send'),
  ).action(
    handled(async (channel: string, flags: ClientFlags & { message?: string }) => {
      const result = await clientFrom(flags).testAlert(channel, flags.message);
      if (flags.json) return printJson(result);
      process.stdout.write(
        result.delivered
          ? `delivered to ${result.channel} (${result.type}) in ${result.durationMs} ms\n`
          : `not delivered to ${result.channel} (${result.type}): ${result.error ?? 'no reason'}\n`,
      );
      if (!result.delivered) process.exitCode = 1;
    }),
  );
}
