import { BullmqAdapter } from './bullmq.js';
import { GraphileAdapter } from './graphile.js';
import { JobdeckAdapter } from './jobdeck.js';
import { PgBossAdapter } from './pgboss.js';
import type { Adapter, AdapterConfig } from './types.js';

export function createAdapter(config: AdapterConfig): Adapter {
  switch (config.system) {
    case 'jobdeck-sqlite':
    case 'jobdeck-pg':
      return new JobdeckAdapter(config);
    case 'bullmq':
      return new BullmqAdapter(config);
    case 'pg-boss':
      return new PgBossAdapter(config);
    case 'graphile-worker':
      return new GraphileAdapter(config);
  }
}
