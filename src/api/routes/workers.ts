import { z } from 'zod';
import type { ApiContext, App } from '../context.js';
import { workerDto, workerSchema } from '../schemas.js';

export function workerRoutes(app: App, { deck }: ApiContext): void {
  app.route({
    method: 'GET',
    url: '/api/workers',
    config: { role: 'viewer' },
    schema: {
      operationId: 'listWorkers',
      summary: 'Every instance (API, worker or both) with the runs it executes',
      description:
        "Instances register at start, beat every `heartbeatMs` (default 5 s) and unregister on a clean stop. One that missed 3 of its beats is `lost`; one that missed 10 is no longer listed. Judged on the store's clock; oldest start first.",
      tags: ['workers'],
      response: { 200: z.object({ workers: z.array(workerSchema) }) },
    },
    handler: async () => ({ workers: (await deck.instances.list()).map(workerDto) }),
  });
}
