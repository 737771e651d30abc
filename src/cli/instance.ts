import { pino, type DestinationStream, type Logger } from 'pino';
import { LOG_OPTIONS } from '../api/server.js';
import { demoJobs } from '../demo/jobs.js';
import type { JobDefinition } from '../jobs/define.js';
import { Jobdeck, type JobdeckOptions } from '../jobdeck.js';
import { DEFAULT_DB, openStore } from '../store/open.js';
import { parsePositiveInt, parseWholeNumber, pick, type InstanceFlags } from './config.js';
import { defineExecJob } from '../jobs/exec.js';
import { loadJobsModule } from '../jobs/load.js';
import { loadAlertsFile } from '../alerts/config.js';
import { ALERT_ATTEMPT_FAILED } from '../alerts/service.js';
import { workerTimings, type WorkerTimings } from '../core/tuning.js';

/**
 * Running an instance: serve, worker and migrate load this module when they run (main.ts loads
 * only the client for the other commands).
 */

export interface InstanceConfig {
  db: string;
  concurrency: number;
  /** Runs claimed ahead of a free slot; unset: none. */
  prefetch: number | undefined;
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

/** The environment variable of each worker timing. */
const TUNING_VARIABLES: Record<keyof WorkerTimings, string> = {
  leaseMs: 'JOBDECK_LEASE_MS',
  heartbeatMs: 'JOBDECK_HEARTBEAT_MS',
  pollMs: 'JOBDECK_POLL_MS',
  cancelPollMs: 'JOBDECK_POLL_MS',
};

/** An instance's settings from its flags and the environment. */
export function instanceConfig(
  flags: { db?: string; concurrency?: number; execAllow?: string; alerts?: string },
  env = process.env,
): InstanceConfig {
  const optional = (name: string) =>
    pick<number | undefined>(undefined, env[name], undefined, parsePositiveInt(name));
  return {
    db: pick(flags.db, env.JOBDECK_DB, DEFAULT_DB, String),
    concurrency: pick(
      flags.concurrency,
      env.JOBDECK_CONCURRENCY,
      10,
      parsePositiveInt('JOBDECK_CONCURRENCY'),
    ),
    prefetch: pick<number | undefined>(
      undefined,
      env.JOBDECK_PREFETCH,
      undefined,
      parseWholeNumber('JOBDECK_PREFETCH'),
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

/** Build a Jobdeck instance from command-line flags and the environment, started. */
export async function startInstance(
  flags: InstanceFlags,
  logger: Logger,
  extra: Partial<JobdeckOptions> = {},
): Promise<Jobdeck> {
  const config = instanceConfig(flags);
  // Before anything starts: timings below their minimums are refused, named as they were set.
  if (flags.worker !== false) {
    workerTimings(
      {
        leaseMs: config.leaseMs,
        heartbeatMs: config.heartbeatMs,
        pollMs: config.pollMs,
        cancelPollMs: config.pollMs,
      },
      (key) => TUNING_VARIABLES[key],
    );
  }
  // Before anything starts: a malformed file stops the start with its line and field.
  const alerts = config.alerts ? loadAlertsFile(config.alerts) : null;
  const jobs: JobDefinition[] = [];
  if (flags.demo) jobs.push(...demoJobs);
  if (flags.jobs) jobs.push(...(await loadJobsModule(flags.jobs)));
  if (config.execAllow.length > 0) jobs.push(defineExecJob({ allow: config.execAllow }));
  const deck = new Jobdeck({
    store: openStore(config.db, {
      onError: (err, where) => logger.warn({ err, where }, 'store connection error'),
    }),
    jobs,
    worker:
      flags.worker === false
        ? false
        : {
            concurrency: config.concurrency,
            ...(config.prefetch ? { prefetch: config.prefetch } : {}),
            ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
            ...(config.heartbeatMs ? { heartbeatMs: config.heartbeatMs } : {}),
            ...(config.pollMs ? { pollMs: config.pollMs, cancelPollMs: config.pollMs } : {}),
          },
    maintenance: {
      ...(config.eventRetentionMs ? { eventRetentionMs: config.eventRetentionMs } : {}),
      ...(config.stuckCheckMs ? { stuckCheckMs: config.stuckCheckMs } : {}),
      ...(config.stuckAfterMs ? { stuckAfterMs: config.stuckAfterMs } : {}),
    },
    ...(alerts
      ? {
          alerts: {
            config: alerts,
            ...(config.stuckCheckMs ? { checkIntervalMs: config.stuckCheckMs } : {}),
          },
        }
      : {}),

    instance: {
      ...(flags.role ? { role: flags.role } : {}),
      ...(config.instanceHeartbeatMs ? { heartbeatMs: config.instanceHeartbeatMs } : {}),
    },
    onError: (err, where) =>
      // A channel refusing an alert is the receiver's trouble: one line, no stack.
      where === ALERT_ATTEMPT_FAILED
        ? logger.warn({ where }, err instanceof Error ? err.message : String(err))
        : logger.error({ err, where }, 'background loop error'),
    ...extra,
    // JOBDECK_PUBLIC_URL wins over the address the server listens on.
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
  });
  return deck.start();
}

/**
 * One Ctrl-C can arrive more than once: the terminal signals the whole process group, and `npm`
 * or the start script pass it on too. Signals this close to the first are that same one.
 */
const REPEATED_SIGNAL_MS = 1000;

/**
 * Stop cleanly on SIGINT/SIGTERM: runs finish within the grace, the rest are released. A signal
 * again (a second Ctrl-C) exits at once; the runs still held are rescued when their lease ends.
 */
export function stopOnSignals(deck: Jobdeck, before: () => Promise<void> = async () => {}): void {
  let stoppingSince: number | null = null;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingSince !== null) {
      if (performance.now() - stoppingSince < REPEATED_SIGNAL_MS) return;
      process.stderr.write(`${signal} again: exiting now; runs still held are rescued later\n`);
      process.exit(1);
    }
    stoppingSince = performance.now();
    process.stderr.write(
      `${signal}: stopping; runs get 10 s to finish, then are released (again to exit now)\n`,
    );
    void before()
      .then(() => deck.close({ graceMs: 10_000 }))
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * Structured JSON logs on stderr (stdout is for what commands print), with secrets redacted.
 * Written at once, as process.stderr is: the start's lines come before the banner on stdout, and
 * none is lost when the process dies.
 */
export function createLogger(
  service: string,
  destination: DestinationStream = pino.destination({ dest: 2, sync: true }),
): Logger {
  return pino(
    {
      level: process.env.JOBDECK_LOG_LEVEL ?? 'info',
      ...LOG_OPTIONS,
      base: { service },
    },
    destination,
  );
}
