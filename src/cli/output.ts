import type { Command } from 'commander';
import ms from 'ms';
import { ApiError, JobdeckClient, type RunInfo } from '../client/client.js';
import { clientConfig } from './config.js';

export interface ClientFlags {
  url?: string;
  token?: string;
  json?: boolean;
}

/** The options every client command shares. */
export function addClientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'server address (env JOBDECK_URL, default http://127.0.0.1:3000)')
    .option('--token <token>', 'API token (env JOBDECK_TOKEN)')
    .option('--json', 'print JSON');
}

export function clientFrom(flags: ClientFlags): JobdeckClient {
  const config = clientConfig(flags);
  return new JobdeckClient({ url: config.url, ...(config.token ? { token: config.token } : {}) });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Rows as aligned columns. */
export function printTable(rows: string[][]): void {
  if (rows.length === 0) return;
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  for (const row of rows)
    process.stdout.write(
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd() + '\n',
    );
}

export function describeRun(run: RunInfo): string {
  const progress = run.progress?.percent != null ? ` ${run.progress.percent}%` : '';
  const cancel = run.cancel ? ` (cancel ${run.cancel.mode} by ${run.cancel.requestedBy})` : '';
  const error = run.error ? ` ${run.error.code}: ${run.error.message}` : '';
  const stuck = run.stuckAt && run.status === 'running' ? ` (stuck since ${run.stuckAt})` : '';
  return `${run.id} ${run.job} ${run.status}${progress} attempt ${run.attempt}/${run.maxAttempts}${stuck}${cancel}${error}`;
}

/** Exit codes of commands that wait for a run: completed 0, failed 1, cancelled 2, partial 3 (API errors: 4, 5). */
export function exitCodeOf(status: string): number {
  return { completed: 0, failed: 1, cancelled: 2, partial: 3 }[status] ?? 4;
}

/** Run a command body; API errors print their code and message and exit non-zero. */
export function handled<A extends unknown[]>(
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      if (err instanceof ApiError) {
        process.stderr.write(`jobdeck: ${err.code} (${err.status}): ${err.message}\n`);
        const details = (err.body as { details?: { path: unknown[]; message: string }[] } | null)
          ?.details;
        for (const d of details ?? [])
          process.stderr.write(`  ${d.path.join('.')}: ${d.message}\n`);
        // Distinct from watch's run outcomes (0–3): 4 for a refused request, 5 for a refused token or role.
        process.exit(err.status === 401 || err.status === 403 ? 5 : 4);
      }
      throw err;
    }
  };
}

/**
 * A time flag as the API takes it: an ISO 8601 time as given, or a duration (`90m`, `2h`, `7d`)
 * meaning that long ago.
 */
export function timeFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ago = ms(value as ms.StringValue);
  return typeof ago === 'number' && Number.isFinite(ago)
    ? new Date(Date.now() - ago).toISOString()
    : value;
}
