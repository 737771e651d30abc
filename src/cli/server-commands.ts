import type { Command } from 'commander';
import { addInstanceOptions, type InstanceFlags } from './config.js';

// The instance's and the store's modules load when these commands run (see main.ts).

export function workerCommand(program: Command): void {
  addInstanceOptions(
    program.command('worker').description('execute runs without serving HTTP'),
  ).action(async (flags: InstanceFlags) => {
    const { createLogger, instanceConfig, startInstance, stopOnSignals } = await import(
      './instance.js'
    );
    const logger = createLogger('jobdeck-worker');
    const deck = await startInstance({ ...flags, worker: true, role: 'worker' }, logger);
    // Handlers first: whoever waits for the line below may signal at once.
    stopOnSignals(deck);
    process.stdout.write(
      `Jobdeck worker ${deck.worker?.id} runs ${deck.registry.list().length} jobs on ${instanceConfig(flags).db}\n`,
    );
  });
}

export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations and exit')
    .option('--db <url>', 'SQLite file, or a postgres:// URL (env JOBDECK_DB)')
    .action(async (flags: { db?: string }) => {
      const [{ openStore }, { instanceConfig }] = await Promise.all([
        import('../store/open.js'),
        import('./instance.js'),
      ]);
      const store = openStore(instanceConfig(flags).db);
      try {
        const report = await store.migrate();
        process.stdout.write(
          report.applied.length
            ? `applied ${report.applied.join(', ')}\n`
            : `up to date (version ${report.current})\n`,
        );
      } finally {
        await store.close();
      }
    });
}
