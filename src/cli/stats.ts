import type { Command } from 'commander';
import ms from 'ms';
import type { StatsBucket } from '../client/client.js';
import { STATS_BUCKETS } from '../runs/stats-window.js';
import {
  addClientOptions,
  clientFrom,
  handled,
  printJson,
  printTable,
  timeFlag,
  type ClientFlags,
} from './output.js';

interface StatsFlags extends ClientFlags {
  from?: string;
  to?: string;
  bucket?: string;
}

const percentiles = (value: { p50: number; p95: number } | null) =>
  value ? `${ms(value.p50)} / ${ms(value.p95)}` : '-';

export function statsCommand(program: Command): void {
  addClientOptions(
    program
      .command('stats')
      .description('runs created, started and ended per bucket and job; the runs waiting now')
      .option('--from <time>', 'start: ISO 8601, or a duration ago (default: 24 h before --to)')
      .option('--to <time>', 'end: ISO 8601, or a duration ago (default: now)')
      .option('--bucket <size>', Object.keys(STATS_BUCKETS).join(', '), '1h'),
  ).action(
    handled(async (flags: StatsFlags) => {
      const stats = await clientFrom(flags).stats({
        ...(flags.from ? { from: timeFlag(flags.from)! } : {}),
        ...(flags.to ? { to: timeFlag(flags.to)! } : {}),
        bucket: (flags.bucket ?? '1h') as StatsBucket,
      });
      if (flags.json) return printJson(stats);
      printTable([
        [
          'BUCKET',
          'JOB',
          'CREATED',
          'STARTED',
          'COMPLETED',
          'PARTIAL',
          'FAILED',
          'CANCELLED',
          'DURATION P50/P95',
          'WAIT P50/P95',
        ],
        ...stats.buckets.map((b) => [
          b.start,
          b.job,
          String(b.created),
          String(b.started),
          String(b.ended.completed),
          String(b.ended.partial),
          String(b.ended.failed),
          String(b.ended.cancelled),
          percentiles(b.durationMs),
          percentiles(b.queueWaitMs),
        ]),
      ]);
      const { unfinished, oldestPending } = stats.now;
      const waiting = Object.entries(unfinished)
        .map(([status, n]) => `${status} ${n}`)
        .join(', ');
      const oldest = oldestPending
        ? `; oldest pending ${oldestPending.runId} (${oldestPending.job}), due ${ms(oldestPending.ageMs)} ago`
        : '';
      process.stdout.write(`now: ${waiting}${oldest}\n`);
    }),
  );
}
