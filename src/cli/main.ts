import { Command, Option } from 'commander';
import { instanceConfig } from './config.js';
import { startInstance, stopOnSignals } from './instance.js';
import { openStore } from '../store/open.js';

const program = new Command()
  .name('jobdeck')
  .description('Background jobs you can watch and stop.')
  .showHelpAfterError();

const dbOption = () => new Option('--db <url>', 'SQLite file, or a postgres:// URL (env JOBDECK_DB)');
const concurrencyOption = () =>
  new Option('--concurrency <n>', 'runs at once in this instance (env JOBDECK_CONCURRENCY)').argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error('--concurrency must be a positive integer');
    return n;
  });

program
  .command('serve')
  .description('run the worker, scheduler and maintenance (the HTTP API and dashboard come next)')
  .addOption(dbOption())
  .addOption(concurrencyOption())
  .option('--jobs <module>', 'a module whose exports are job definitions')
  .option('--demo', 'register the demo jobs')
  .option('--no-worker', 'do not execute runs in this instance')
  .action(async (flags: { db?: string; concurrency?: number; jobs?: string; demo?: boolean; worker?: boolean }) => {
    const deck = await startInstance(flags);
    console.log(`jobdeck serving ${deck.registry.list().length} jobs on ${instanceConfig(flags).db}`);
    stopOnSignals(deck);
  });

program
  .command('worker')
  .description('execute runs without serving HTTP')
  .addOption(dbOption())
  .addOption(concurrencyOption())
  .option('--jobs <module>', 'a module whose exports are job definitions')
  .option('--demo', 'register the demo jobs')
  .action(async (flags: { db?: string; concurrency?: number; jobs?: string; demo?: boolean }) => {
    const deck = await startInstance(flags);
    console.log(`jobdeck worker ${deck.worker?.id} running ${deck.registry.list().length} jobs`);
    stopOnSignals(deck);
  });

program
  .command('migrate')
  .description('apply pending migrations and exit')
  .addOption(dbOption())
  .action(async (flags: { db?: string }) => {
    const store = openStore(instanceConfig(flags).db);
    const report = await store.migrate();
    await store.close();
    console.log(report.applied.length ? `applied ${report.applied.join(', ')}` : 'up to date');
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`jobdeck: ${(err as Error).message}`);
  process.exit(1);
});
