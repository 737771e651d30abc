import { z } from 'zod';
import type { ApiContext, App } from '../context.js';
import {
  createParamsOf,
  createRunBody,
  errorResponse,
  jobDto,
  jobNameParams,
  jobSchema,
  patchJobBody,
  runDto,
  runSchema,
} from '../schemas.js';

const JOB_NOT_FOUND = errorResponse('JOB_NOT_FOUND: no job is registered with this name');

export function jobRoutes(app: App, { deck }: ApiContext): void {
  app.route({
    method: 'GET',
    url: '/api/jobs',
    config: { role: 'viewer' },
    schema: {
      operationId: 'listJobs',
      summary: 'Registered jobs',
      tags: ['jobs'],
      response: { 200: z.object({ jobs: z.array(jobSchema) }) },
    },
    handler: async () => ({ jobs: (await deck.runs.jobs()).map(jobDto) }),
  });

  app.route({
    method: 'GET',
    url: '/api/jobs/:name',
    config: { role: 'viewer' },
    schema: {
      operationId: 'getJob',
      summary: 'One job and its 20 latest runs',
      tags: ['jobs'],
      params: jobNameParams,
      response: {
        200: z.object({ job: jobSchema, runs: z.array(runSchema) }),
        404: JOB_NOT_FOUND,
      },
    },
    handler: async (request) => {
      const view = await jobView(deck, request.params.name);
      const { runs } = await deck.runs.list({ job: view.definition.name, limit: 20 });
      return { job: jobDto(view), runs: runs.map(runDto) };
    },
  });

  app.route({
    method: 'PATCH',
    url: '/api/jobs/:name',
    config: { role: 'admin' },
    schema: {
      operationId: 'updateJob',
      summary: 'Enable or disable a job at run time',
      tags: ['jobs'],
      params: jobNameParams,
      body: patchJobBody,
      response: { 200: z.object({ job: jobSchema }), 404: JOB_NOT_FOUND },
    },
    handler: async (request) => {
      const view = await deck.runs.setEnabled(
        request.params.name,
        request.body.enabled,
        request.principal!,
      );
      return { job: jobDto(view) };
    },
  });

  app.route({
    method: 'POST',
    url: '/api/jobs/:name/runs',
    config: { role: 'operator' },
    schema: {
      operationId: 'createRun',
      summary: 'Start a run',
      tags: ['runs'],
      params: jobNameParams,
      body: createRunBody,
      response: {
        202: z.object({ run: runSchema, created: z.boolean() }),
        400: errorResponse(
          "INVALID_INPUT: the request, or the input against the job's schema (`details` name the fields)",
        ),
        403: errorResponse(
          "FORBIDDEN: the token's role is below operator, or the job cannot be started by hand (`canTrigger: false`)",
        ),
        404: JOB_NOT_FOUND,
        409: errorResponse(
          'JOB_DISABLED: the job is disabled; ALREADY_RUNNING: it allows no concurrent runs and one is active',
        ),
      },
    },
    handler: async (request, reply) => {
      const { run, created } = await deck.runs.create({
        job: request.params.name,
        ...createParamsOf(request.body),
        trigger: 'api',
        principal: request.principal!,
      });
      return reply.status(202).send({ run: runDto(run), created });
    },
  });
}

async function jobView(deck: ApiContext['deck'], name: string) {
  deck.registry.require(name);
  const view = (await deck.runs.jobs()).find((j) => j.definition.name === name);
  return view!;
}
