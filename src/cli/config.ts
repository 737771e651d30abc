import { DEFAULT_DB } from '../store/open.js';

/** Flags win over environment variables, which win over defaults. */
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

function positiveInt(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
    return n;
  };
}

function port(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new Error(`${name} must be a port number, not ${JSON.stringify(raw)}`);
    return n;
  };
}

export const parsePositiveInt = positiveInt;
export const parsePort = port;

export interface InstanceConfig {
  db: string;
  concurrency: number;
  /** Tuning of the worker; unset means the defaults. */
  leaseMs: number | undefined;
  heartbeatMs: number | undefined;
  pollMs: number | undefined;
  /** How long the event feed keeps events for readers to resume from; unset: 24 h. */
  eventRetentionMs: number | undefined;
  /** How often the instance beats in the registry of instances; unset means the default. */
  instanceHeartbeatMs: number | undefined;
  /** Commands the built-in `exec` job may run; empty: no `exec` job. */
  execAllow: string[];
  /** The alerts file (rules and channels); unset: no alerts from this instance. */
  alerts: string | undefined;
  /** Where people reach the dashboard, for links; unset: the instance's own address. */
  publicUrl: string | undefined;
  /** How often running attempts are checked for being stuck (and queues for backlogs); unset: 60 s. */
  stuckCheckMs: number | undefined;
  /** When an attempt is stuck, for jobs that do not say; unset: 20 min. */
  stuckAfterMs: number | undefined;
}

export function instanceConfig(
  flags: { db?: string; concurrency?: number; execAllow?: string; alerts?: string },
  env = process.env,
): InstanceConfig {
  const optional = (name: string) =>
    pick<number | undefined>(undefined, env[name], undefined, positiveInt(name));
  return {
    db: pick(flags.db, env.JOBDECK_DB, DEFAULT_DB, String),
    concurrency: pick(
      flags.concurrency,
      env.JOBDECK_CONCURRENCY,
      10,
      positiveInt('JOBDECK_CONCURRENCY'),
    ),
    leaseMs: optional('JOBDECK_LEASE_MS'),
    heartbeatMs: optional('JOBDECK_HEARTBEAT_MS'),
    pollMs: optional('JOBDECK_POLL_MS'),
    eventRetentionMs: optional('JOBDECK_EVENT_RETENTION_MS'),
    instanceHeartbeatMs: optional('JOBDECK_INSTANCE_HEARTBEAT_MS'),
    execAllow: (flags.execAllow ?? env.JOBDECK_EXEC_ALLOW ?? '')
      .split(',')
      .map((command) => command.trim())
      .filter(Boolean),
    alerts: pick<string | undefined>(flags.alerts, env.JOBDECK_ALERTS, undefined, String),
    publicUrl: env.JOBDECK_PUBLIC_URL || undefined,
    stuckCheckMs: optional('JOBDECK_STUCK_CHECK_MS'),
    stuckAfterMs: optional('JOBDECK_STUCK_AFTER_MS'),
  };
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
}

export function clientConfig(
  flags: { url?: string; token?: string },
  env = process.env,
): ClientConfig {
  return {
    url: pick(flags.url, env.JOBDECK_URL, 'http://127.0.0.1:3000', String),
    token: pick<string | undefined>(flags.token, env.JOBDECK_TOKEN, undefined, String),
  };
}
