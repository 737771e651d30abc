import { Command } from 'commander';
import { JOBDECK_VERSION } from '../instances/version.js';
import { alertsCommand } from './alerts.js';
import { cancelCommand } from './cancel.js';
import { chatCommand } from './chat.js';
import { jobsCommand } from './jobs.js';
import { logsCommand } from './logs.js';
import { pauseCommands } from './pause.js';
import { runsCommand } from './runs.js';
import { serveCommand } from './serve.js';
import { migrateCommand, workerCommand } from './server-commands.js';
import { statsCommand } from './stats.js';
import { triggerCommand } from './trigger.js';
import { watchCommand } from './watch.js';
import { workersCommand } from './workers.js';
import { DEFAULT_URL } from './config.js';
import { exitCodesHelp } from './output.js';

// Every command's definition is here, light; serve, worker, migrate and alerts check import the
// server's modules when they run, so client commands start without loading them (a test checks).

// `jobdeck runs | head -1`: the reader closed the pipe, so there is no one left to print for.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`jobdeck: ${err.message}\n`);
  process.exit(1);
});

const program = new Command()
  .name('jobdeck')
  .description('Background jobs you can watch and stop.')
  .version(JOBDECK_VERSION, '-V, --version', 'print the version')
  .showHelpAfterError()
  .addHelpText(
    'after',
    [
      '',
      `Client commands talk to a server: JOBDECK_URL (or --url; default ${DEFAULT_URL})`,
      'and JOBDECK_TOKEN (or --token), as the export line `jobdeck serve` prints.',
      '',
      'Exit codes:',
      exitCodesHelp(),
    ].join('\n'),
  );

serveCommand(program);
workerCommand(program);
migrateCommand(program);
jobsCommand(program);
triggerCommand(program);
runsCommand(program);
statsCommand(program);
cancelCommand(program);
pauseCommands(program);
logsCommand(program);
watchCommand(program);
workersCommand(program);
chatCommand(program);
alertsCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`jobdeck: ${(err as Error).message}\n`);
  process.exit(1);
});
