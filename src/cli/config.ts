import { Option, type Command } from 'commander';
import type { InstanceRole } from '../core/instance.js';

/**
 * The settings of the commands: flags win over environment variables, which win over defaults.
 * Client commands load this module, so it imports nothing of the server (the instance's settings,
 * which name the store, live in instance.ts).
 */

/** The server the client commands talk to unless JOBDECK_URL or --url says otherwise. */
export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** A setting: the flag, else the environment variable, else the default. */
export function pick<T>(
  flag: T | undefined,
  env: string | undefined,
  fallback: T,
  parse: (raw: string) => T,
): T {
  if (flag !== undefined) return flag;
  if (env !== undefined && env !== '') return parse(env);
  return fallback;
}

function intAtLeast(min: 0 | 1) {
  const what = min === 1 ? 'a positive integer' : 'a whole number, 0 or more';
  return (name: string) =>
    (raw: string): number => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min)
        throw new Error(`${name} must be ${what}, not ${JSON.stringify(raw)}`);
      return n;
    };
}
const positiveInt = intAtLeast(1);

function port(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new Error(`${name} must be a port number, not ${JSON.stringify(raw)}`);
    return n;
  };
}

/** An http:// or https:// address: a bare `localhost:3000` would otherwise fail later, less clearly. */
function httpUrl(name: string) {
  return (raw: string): string => {
    let protocol: string | null = null;
    try {
      protocol = new URL(raw).protocol;
    } catch {
      // Not a URL at all: said below.
    }
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new Error(
        `${name} must be the server's http:// or https:// address, such as ${DEFAULT_URL}, not ${JSON.stringify(raw)}`,
      );
    return raw;
  };
}

export const parsePositiveInt = positiveInt;
export const parseWholeNumber = intAtLeast(0);
export const parsePort = port;
export const parseHttpUrl = httpUrl;

export interface InstanceFlags {
  db?: string;
  concurrency?: number;
  jobs?: string;
  demo?: boolean;
  worker?: boolean;
  /** The instance's role when it is not implied (`worker` for the worker command). */
  role?: InstanceRole;
  execAllow?: string;
  alerts?: string;
}

/** The options every command that runs an instance shares. */
export function addInstanceOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--db <url>',
        'SQLite file, or a postgres:// URL (env JOBDECK_DB, default ./.jobdeck/jobdeck.db)',
      ),
    )
    .addOption(
      new Option(
        '--concurrency <n>',
        'runs at once in this instance (env JOBDECK_CONCURRENCY, default 10)',
      ).argParser(parsePositiveInt('--concurrency')),
    )
    .option(
      '--jobs <module>',
      'a module whose exports are job definitions (.js, or .ts through tsx when its project has it)',
    )
    .option('--demo', 'register the demo jobs')
    .option(
      '--exec-allow <commands>',
      'commands the built-in exec job may run, comma-separated (env JOBDECK_EXEC_ALLOW)',
    )
    .option(
      '--alerts <file>',
      'alert rules and channels, YAML (env JOBDECK_ALERTS); checked at start',
    );
}

export interface ServerConfig {
  port: number;
  host: string;
  tokens: string | undefined;
  tokensFile: string | undefined;
}

export function serverConfig(
  flags: { port?: number; host?: string; tokensFile?: string },
  env = process.env,
): ServerConfig {
  return {
    port: pick(flags.port, env.JOBDECK_PORT, 3000, port('JOBDECK_PORT')),
    host: pick(flags.host, env.JOBDECK_HOST, '127.0.0.1', String),
    tokens: flags.tokensFile ? undefined : env.JOBDECK_TOKENS || undefined,
    tokensFile: flags.tokensFile,
  };
}

export interface ClientConfig {
  url: string;
  token: string | undefined;
  /** Where the token came from, so that a refusal can say what to change. */
  tokenFrom: '--token' | 'JOBDECK_TOKEN' | null;
}

export function clientConfig(
  flags: { url?: string; token?: string },
  env = process.env,
): ClientConfig {
  const token =
    pick<string | undefined>(flags.token, env.JOBDECK_TOKEN, undefined, String) || undefined;
  return {
    url: pick(flags.url, env.JOBDECK_URL, DEFAULT_URL, httpUrl('JOBDECK_URL')),
    token,
    tokenFrom: token === undefined ? null : flags.token !== undefined ? '--token' : 'JOBDECK_TOKEN',
  };
}
