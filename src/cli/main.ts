import { Command } from 'commander';
import { alertsCommand } from './alerts.js';
import { cancelCommand } from './cancel.js';
import { chatCommand } from './chat.js';
import { jobsCommand } from './jobs.js';
import { logsCommand } from './logs.js';
import { runsCommand } from './runs.js';
import { serveCommand } from './serve.js';
import { migrateCommand, workerCommand } from './server-commands.js';
import { statsCommand } from './stats.js';
import { triggerCommand } from './trigger.js';
import { watchCommand } from './watch.js';
import { workersCommand } from './workers.js';

// `jobdeck runs | head -1`: the reader closed the pipe, so there is no one left to print for.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`jobdeck: ${err.message}\n`);
  process.exit(1);
});

const program = new Command()
  .name('jobdeck')
  .description('Background jobs you can watch and stop.')
  .showHelpAfterError();

serveCommand(program);
workerCommand(program);
migrateCommand(program);
jobsCommand(program);
triggerCommand(program);
runsCommand(program);
statsCommand(program);
cancelCommand(program);
logsCommand(program);
watchCommand(program);
workersCommand(program);
chatCommand(program);
alertsCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`jobdeck: ${(err as Error).message}\n`);
  process.exit(1);
});
