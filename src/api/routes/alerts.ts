import { z } from 'zod';
import type { ApiContext, App } from '../context.js';
import {
  alertDto,
  alertSchema,
  alertTestBody,
  alertTestSchema,
  alertsQuery,
  errorResponse,
} from '../schemas.js';

export function alertRoutes(app: App, { deck }: ApiContext): void {
  app.route({
    method: 'GET',
    url: '/api/alerts',
    config: { role: 'viewer' },
    schema: {
      operationId: 'listAlerts',
      summary: 'Recent alerts, newest first, with the state and attempts of each delivery',
      description:
        'Every alert any instance recorded: one per rule and event across the cluster. Channels are named, never shown (their URLs and secrets stay in the alerts file).',
      tags: ['alerts'],
      querystring: alertsQuery,
      response: { 200: z.object({ alerts: z.array(alertSchema) }) },
    },
    handler: async (request) => ({
      alerts: (await deck.alerts.list(request.query)).map(alertDto),
    }),
  });

  app.route({
    method: 'POST',
    url: '/api/alerts/test',
    config: { role: 'admin' },
    schema: {
      operationId: 'testAlert',
      summary: 'Send a test message through a channel of the alerts file, once',
      description:
        "200 with `delivered` and the receiver's answer (a channel that fails is not an error of this request); 404 for a channel the alerts file of this instance does not name.",
      tags: ['alerts'],
      body: alertTestBody,
      response: {
        200: alertTestSchema,
        404: errorResponse('NOT_FOUND: the alerts file of this instance names no such channel'),
      },
    },
    handler: async (request) => deck.alerts.test(request.body.channel, request.body.message),
  });
}
