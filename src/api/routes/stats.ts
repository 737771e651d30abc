import type { ApiContext, App } from '../context.js';
import { statsDto, statsQuery, statsSchema } from '../schemas.js';
import { MAX_STATS_BUCKETS } from '../../runs/stats-window.js';

export function statsRoutes(app: App, { deck }: ApiContext): void {
  app.route({
    method: 'GET',
    url: '/api/stats',
    config: { role: 'viewer' },
    schema: {
      operationId: 'getStats',
      summary: 'Runs created, started and ended per bucket of time and job; the runs waiting now',
      description: `The window is \`from\` (default: 24 h before \`to\`) to \`to\` (default: now), widened to whole buckets aligned to UTC; at most ${MAX_STATS_BUCKETS} buckets. Only buckets and jobs with runs are listed. Percentiles are nearest-rank.`,
      tags: ['stats'],
      querystring: statsQuery,
      response: { 200: statsSchema },
    },
    handler: async (request) => statsDto(await deck.runs.stats(request.query)),
  });
}
