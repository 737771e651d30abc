import type { Command } from 'commander';
import type { TokenSet } from '../api/auth.js';
import { countOf } from '../core/text.js';
import { addInstanceOptions, parsePort, serverConfig, type InstanceFlags } from './config.js';

interface ServeFlags extends InstanceFlags {
  port?: number;
  host?: string;
  tokensFile?: string;
}

export function serveCommand(program: Command): void {
  addInstanceOptions(
    program
      .command('serve')
      .description(
        'serve the HTTP API, dashboard and metrics, and execute runs (unless --no-worker)',
      )
      .option(
        '--port <port>',
        'port to listen on (env JOBDECK_PORT, default 3000)',
        parsePort('--port'),
      )
      .option('--host <host>', 'address to listen on (env JOBDECK_HOST, default 127.0.0.1)')
      .option(
        '--tokens-file <path>',
        'file of principal:role:token lines, each optionally ending in rate=<max>/<window> (else env JOBDECK_TOKENS)',
      )
      .option('--no-worker', 'serve the API and dashboard without executing runs'),
  ).action(async (flags: ServeFlags) => {
    // The server's modules load when it starts, not for every command (see main.ts).
    const [{ TokenSet }, { buildApiServer }, { createLogger, startInstance, stopOnSignals }] =
      await Promise.all([
        import('../api/auth.js'),
        import('../api/server.js'),
        import('./instance.js'),
      ]);
    const config = serverConfig(flags);
    let tokens: TokenSet;
    let generated: string | null = null;
    if (config.tokensFile) tokens = TokenSet.fromFile(config.tokensFile);
    else if (config.tokens) tokens = TokenSet.parse(config.tokens);
    else ({ tokens, token: generated } = TokenSet.generateAdmin());

    // Settings are checked before the instance starts: a mistake stops nothing half-started.
    const settings = {
      metricsRole: metricsRole(),
      processMetricsPrefix: processMetricsPrefix(),
      ...trustProxy(),
    };
    const logger = createLogger('jobdeck');
    // Links in alerts and chat answers point at this server unless JOBDECK_PUBLIC_URL says where people reach it.
    const local = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host;
    const deck = await startInstance(flags, logger, {
      publicUrl: `http://${local.includes(':') ? `[${local}]` : local}:${config.port}`,
    });
    const app = await buildApiServer({
      deck,
      tokens,
      logger,
      // The chat users and secrets of the alerts file, checked with the rest of it at start.
      ...(deck.alerts.config ? { chatops: deck.alerts.config.chatops } : {}),
      ...settings,
    });
    const address = await app.listen({ port: config.port, host: config.host });
    // Handlers first: whoever waits for the banner below may signal at once.
    stopOnSignals(deck, () => app.close());
    const shown = address.replace('[::1]', 'localhost').replace('127.0.0.1', 'localhost');
    const jobCount = deck.registry.list().length;
    const lines = [
      `Jobdeck is serving ${countOf(jobCount, 'job')} on ${address}${deck.worker ? '' : ' (no worker)'}`,
      // Runs of jobs this instance does not know are refused (404): say how to give it some.
      ...(jobCount === 0 ? ['  no jobs yet: pass --jobs <module> (your jobs) or --demo'] : []),
      `  dashboard  ${shown}/dashboard`,
      `  API        ${shown}/api/jobs   (OpenAPI: ${shown}/openapi.json)`,
    ];
    const alerts = deck.alerts.config;
    if (alerts) {
      lines.push(
        `  alerts     ${alerts.rules.length} rule(s), ${Object.keys(alerts.channels).length} channel(s) from ${alerts.source}`,
      );
    }
    if (generated) {
      lines.push(
        '',
        'No tokens are configured (JOBDECK_TOKENS or --tokens-file), so an admin token was created for',
        'this start only; it is shown here once and never logged. Sign in to the dashboard with it,',
        'and paste this line into another terminal for the jobdeck commands:',
        '',
        `  export JOBDECK_URL=${shown} JOBDECK_TOKEN=${generated}`,
      );
    }
    // One write: no log line (JSON, on stderr) can land inside the banner.
    process.stdout.write(lines.join('\n') + '\n');
  });
}

function metricsRole() {
  const value = process.env.JOBDECK_METRICS_ROLE;
  if (value === undefined || value === '') return 'viewer';
  if (!['none', 'viewer', 'operator', 'admin'].includes(value))
    throw new Error('JOBDECK_METRICS_ROLE must be none, viewer, operator or admin');
  return value as 'none' | 'viewer' | 'operator' | 'admin';
}

/** JOBDECK_METRICS_PROCESS_PREFIX: put before `process_*` and `nodejs_*` in /metrics (none by default). */
function processMetricsPrefix(): string {
  const value = process.env.JOBDECK_METRICS_PROCESS_PREFIX ?? '';
  if (value !== '' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(value))
    throw new Error(
      'JOBDECK_METRICS_PROCESS_PREFIX must be the start of a Prometheus metric name: letters, digits, _ and :, not starting with a digit',
    );
  return value;
}

/** JOBDECK_TRUST_PROXY: `true`, or the reverse proxies' addresses (comma-separated). */
function trustProxy(): { trustProxy?: boolean | string[] } {
  const value = process.env.JOBDECK_TRUST_PROXY?.trim();
  if (!value || value === 'false') return {};
  if (value === 'true') return { trustProxy: true };
  return { trustProxy: value.split(',').map((part) => part.trim()) };
}
