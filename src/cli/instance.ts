import { Option, type Command } from 'commander';
import { pino, type DestinationStream, type Logger } from 'pino';
import { LOG_OPTIONS } from '../api/server.js';
import { demoJobs } from '../demo/jobs.js';
import type { InstanceRole } from '../core/instance.js';
import type { JobDefinition } from '../jobs/define.js';
import { Jobdeck, type JobdeckOptions } from '../jobdeck.js';
import { openStore } from '../store/open.js';
import { instanceConfig, parsePositiveInt } from './config.js';
import { defineExecJob } from '../jobs/exec.js';
import { loadJobsModule } from '../jobs/load.js';
import { loadAlertsFile } from '../alerts/config.js';
import { ALERT_ATTEMPT_FAILED } from '../alerts/service.js';

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
    .option('--jobs <module>', 'a module whose exports are job definitions')
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

/** Build a Jobdeck instance from command-line flags and the environment, started. */
export async function startInstance(
  flags: InstanceFlags,
  logger: Logger,
  extra: Partial<JobdeckOptions> = {},
): Promise<Jobdeck> {
  const config = instanceConfig(flags);
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

/** Stop cleanly on SIGINT/SIGTERM: runs finish within the grace, the rest are released. */
export function stopOnSignals(deck: Jobdeck, before: () => Promise<void> = async () => {}): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`${signal}: stopping; runs get 10 s to finish, then are released\n`);
    void before()
      .then(() => deck.close({ graceMs: 10_000 }))
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Structured JSON logs on stderr (stdout is for what commands print), with secrets redacted. */
export function createLogger(
  service: string,
  destination: DestinationStream = pino.destination(2),
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
