import { demoJobs } from '../demo/jobs.js';
import type { JobDefinition } from '../jobs/define.js';
import { Jobdeck, type JobdeckOptions } from '../jobdeck.js';
import { openStore } from '../store/open.js';
import { instanceConfig } from './config.js';
import { loadJobsModule } from './load-jobs.js';

export interface InstanceFlags {
  db?: string;
  concurrency?: number;
  jobs?: string;
  demo?: boolean;
  worker?: boolean;
}

/** Build a Jobdeck instance from command-line flags and the environment, started. */
export async function startInstance(flags: InstanceFlags, extra: Partial<JobdeckOptions> = {}): Promise<Jobdeck> {
  const config = instanceConfig(flags);
  const jobs: JobDefinition[] = [];
  if (flags.demo) jobs.push(...demoJobs);
  if (flags.jobs) jobs.push(...(await loadJobsModule(flags.jobs)));
  const deck = new Jobdeck({
    store: openStore(config.db),
    jobs,
    worker: flags.worker === false ? false : { concurrency: config.concurrency },
    onError: (err, where) => console.error(`[jobdeck] ${where}: ${(err as Error).message}`),
    ...extra,
  });
  return deck.start();
}

/** Stop cleanly on SIGINT/SIGTERM: runs finish within the grace, the rest are released. */
export function stopOnSignals(deck: Jobdeck, extra: () => Promise<void> = async () => {}): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.error(`[jobdeck] ${signal}: stopping (runs get 10 s to finish, then are released)`);
    void extra()
      .then(() => deck.close({ graceMs: 10_000 }))
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
