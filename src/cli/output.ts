import { Command } from 'commander';
import ms from 'ms';
import { ApiError, JobdeckClient, UnreachableError, type RunInfo } from '../client/client.js';
import { httpFetch } from '../client/http-fetch.js';
import type { TerminalStatus } from '../core/status.js';
import { DEFAULT_URL, clientConfig, parseHttpUrl, type ClientConfig } from './config.js';

export interface ClientFlags {
  url?: string;
  token?: string;
  json?: boolean;
}

/** The options every client command shares. */
export function addClientOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      `server address (env JOBDECK_URL, default ${DEFAULT_URL})`,
      parseHttpUrl('--url'),
    )
    .option('--token <token>', 'API token (env JOBDECK_TOKEN)')
    .option('--json', 'print JSON');
}

export function clientFrom(flags: ClientFlags): JobdeckClient {
  const config = clientConfig(flags);
  return new JobdeckClient({
    url: config.url,
    ...(config.token ? { token: config.token } : {}),
    fetch: httpFetch,
  });
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

/**
 * What the exit code of a command says, in one place: `jobdeck --help`, the README and
 * docs/reference/cli.md list these (a test keeps the docs in step).
 */
export const EXIT_CODES = {
  completed: { code: 0, meaning: 'done; for watch: the run completed' },
  failed: {
    code: 1,
    meaning: 'watch: the run failed; any command: its own error (a bad flag, unreadable --input)',
  },
  cancelled: { code: 2, meaning: 'watch: the run was cancelled' },
  partial: {
    code: 3,
    meaning: 'watch: the run ended partial (some items failed or were cancelled)',
  },
  refused: {
    code: 4,
    meaning:
      'the server refused: a conflict (RUN_FINISHED, ALREADY_RUNNING…), not found, invalid input, too many requests (RATE_LIMITED); trigger --input-file: any of its runs',
  },
  forbidden: { code: 5, meaning: 'no token, a token the server does not know, or a role too low' },
  unreachable: { code: 6, meaning: 'the server cannot be reached, or failed (5xx)' },
  interrupted: { code: 130, meaning: 'stopped with Ctrl-C' },
} as const;

/** The exit codes as `jobdeck --help` lists them. */
export function exitCodesHelp(): string {
  return Object.values(EXIT_CODES)
    .map(({ code, meaning }) => `  ${String(code).padStart(3)}  ${meaning}`)
    .join('\n');
}

/** The exit code of a command that waited for a run to end. */
export function exitCodeOf(status: TerminalStatus): number {
  return EXIT_CODES[status].code;
}

/** What to change after a 401, by where the token came from. */
function tokenHint(config: ClientConfig): string {
  if (config.tokenFrom === null)
    return 'no token was given: set JOBDECK_TOKEN or pass --token (`jobdeck serve` prints an admin token at start when JOBDECK_TOKENS is not set)';
  return `the server does not know the token of ${config.tokenFrom}; a server started without JOBDECK_TOKENS makes a new one at each start`;
}

/**
 * Run a client command's body. What the server refused prints its code and message (and a hint
 * for a token), an unreachable server says where it was looked for; each has its exit code.
 */
export function handled<A extends unknown[]>(
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      // Commander passes the command last: its flags say where the URL and token came from.
      const command = args.at(-1);
      const flags = command instanceof Command ? command.opts<ClientFlags>() : {};
      if (err instanceof UnreachableError) {
        process.stderr.write(
          `jobdeck: cannot reach ${err.url} (${err.reason}) — is jobdeck serve running? Set JOBDECK_URL or --url to its address.\n`,
        );
        process.exit(EXIT_CODES.unreachable.code);
      }
      if (err instanceof ApiError) {
        process.stderr.write(`jobdeck: ${err.code} (${err.status}): ${err.message}\n`);
        const details = (err.body as { details?: { path: unknown[]; message: string }[] } | null)
          ?.details;
        for (const d of details ?? [])
          process.stderr.write(`  ${d.path.join('.')}: ${d.message}\n`);
        if (err.status === 401) process.stderr.write(`  ${tokenHint(clientConfig(flags))}\n`);
        process.exit(
          err.status === 401 || err.status === 403
            ? EXIT_CODES.forbidden.code
            : err.status >= 500
              ? EXIT_CODES.unreachable.code
              : EXIT_CODES.refused.code,
        );
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
