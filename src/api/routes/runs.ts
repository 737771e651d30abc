import { z } from 'zod';
import { JobdeckError } from '../../core/errors.js';
import { RUN_TOTAL_CAP } from '../../runs/service.js';
import type { ApiContext, App } from '../context.js';
import { fieldIssues } from '../../jobs/validate.js';
import {
  LIMITS,
  batchResultDto,
  batchResultSchema,
  batchRunItem,
  bulkCancelBody,
  cancelBody,
  createParamsOf,
  createRunsBody,
  decodeCursor,
  encodeCursor,
  errorResponse,
  listRunsQuery,
  logDto,
  logSchema,
  logsQuery,
  RUN_CHILDREN_SHOWN,
  RUN_STEPS_SHOWN,
  runDetailDto,
  runDetailSchema,
  runDto,
  runIdParams,
  runSchema,
  type BatchResultDto,
  type BatchRunItem,
} from '../schemas.js';

const RUN_NOT_FOUND = errorResponse('RUN_NOT_FOUND: no run has this id');
const NOT_OWNER = errorResponse(
  "FORBIDDEN: the token's role is below operator, or an operator's run is another principal's",
);

export function runRoutes(app: App, { deck }: ApiContext): void {
  app.route({
    method: 'GET',
    url: '/api/runs',
    config: { role: 'viewer' },
    schema: {
      operationId: 'listRuns',
      summary: 'Runs, newest first, filtered and paginated',
      description: `With \`total=true\`, the answer counts the runs that match the filters (all pages): exactly up to ${RUN_TOTAL_CAP}; past it \`total\` is ${RUN_TOTAL_CAP} and \`totalIsCapped\` is true.`,
      tags: ['runs'],
      querystring: listRunsQuery,
      response: {
        200: z.object({
          runs: z.array(runSchema),
          nextCursor: z.string().nullable(),
          total: z.number().int().optional(),
          totalIsCapped: z.boolean().optional(),
        }),
      },
    },
    handler: async (request) => {
      const { status, job, createdBy, from, to, q, parentId, total, limit, cursor } = request.query;
      let after: string | null = null;
      if (cursor !== undefined) {
        after = decodeCursor(cursor);
        if (after === null) {
          throw new JobdeckError('INVALID_INPUT', 'The cursor is not one this API gave out.', {
            details: [{ path: ['cursor'], message: 'unknown cursor', in: 'querystring' }],
          });
        }
      }
      const filter = {
        ...(status ? { status } : {}),
        ...(job ? { job } : {}),
        ...(createdBy ? { createdBy } : {}),
        ...(from ? { createdFrom: from } : {}),
        ...(to ? { createdTo: to } : {}),
        ...(q ? { idPrefix: q } : {}),
        ...(parentId ? { parentId } : {}),
      };
      const page = await deck.runs.list({ ...filter, limit, cursor: after });
      const counted = total ? await deck.runs.count(filter) : null;
      return {
        runs: page.runs.map(runDto),
        nextCursor: encodeCursor(page.nextCursor),
        ...(counted ? { total: counted.total, totalIsCapped: counted.capped } : {}),
      };
    },
  });

  app.route({
    method: 'GET',
    url: '/api/runs/:id',
    config: { role: 'viewer' },
    schema: {
      operationId: 'getRun',
      summary: 'One run',
      description: `The run with every attempt, its durable steps and the child runs its handler started (the newest ${RUN_STEPS_SHOWN} steps and ${RUN_CHILDREN_SHOWN} children; \`earlierStepsOmitted\` and \`earlierChildrenOmitted\` say when older ones are left out).`,
      tags: ['runs'],
      params: runIdParams,
      response: { 200: z.object({ run: runDetailSchema }), 404: RUN_NOT_FOUND },
    },
    handler: async (request) => {
      const { run, steps, children } = await deck.runs.detail(request.params.id, {
        steps: RUN_STEPS_SHOWN + 1,
        children: RUN_CHILDREN_SHOWN + 1,
      });
      return { run: runDetailDto(run, steps, children) };
    },
  });

  app.route({
    method: 'GET',
    url: '/api/runs/:id/logs',
    config: { role: 'viewer' },
    schema: {
      operationId: 'listRunLogs',
      summary: "A run's logs after a sequence number",
      tags: ['runs'],
      params: runIdParams,
      querystring: logsQuery,
      response: { 200: z.object({ logs: z.array(logSchema) }), 404: RUN_NOT_FOUND },
    },
    handler: async (request) => ({
      logs: (await deck.runs.logs(request.params.id, request.query.after, request.query.limit)).map(
        logDto,
      ),
    }),
  });

  app.route({
    method: 'POST',
    url: '/api/runs/:id/cancel',
    config: { role: 'operator' },
    schema: {
      operationId: 'cancelRun',
      summary: 'Cancel a run, gracefully or by force',
      description: 'Operators may cancel their own runs, admins any. See the cancellation table.',
      tags: ['runs'],
      params: runIdParams,
      // A POST without a body arrives as null: it means the defaults (graceful, no reason).
      body: cancelBody.nullish(),
      response: {
        200: z.object({
          run: runSchema,
          action: z.enum(['cancel-now', 'request', 'force', 'unchanged']),
        }),
        403: NOT_OWNER,
        404: RUN_NOT_FOUND,
        409: errorResponse('RUN_FINISHED: the run had already ended; `run` is the run as it is'),
      },
    },
    handler: async (request) => {
      const body = request.body ?? { mode: 'graceful' as const };
      const { run, action } = await deck.cancels.cancel(
        request.params.id,
        { mode: body.mode, reason: body.reason ?? null },
        request.principal!,
      );
      return {
        run: runDto(run),
        action: action as 'cancel-now' | 'request' | 'force' | 'unchanged',
      };
    },
  });

  app.route({
    method: 'POST',
    url: '/api/runs/cancel',
    config: { role: 'operator' },
    schema: {
      operationId: 'cancelManyRuns',
      summary: 'Cancel many runs: by ids, or by job and/or status',
      tags: ['runs'],
      body: bulkCancelBody,
      response: {
        200: z.object({
          truncated: z.boolean(),
          results: z.array(
            z.object({
              id: z.string(),
              outcome: z.string(),
              status: z.string().optional(),
              error: z.string().optional(),
              message: z.string().optional().describe('why the run was refused'),
            }),
          ),
        }),
      },
    },
    handler: async (request) => {
      const { ids, job, status, mode, reason } = request.body;
      return deck.cancels.cancelMany(
        { ...(ids ? { ids } : {}), ...(job ? { job } : {}), ...(status ? { status } : {}) },
        { mode, reason: reason ?? null },
        request.principal!,
      );
    },
  });

  app.route({
    method: 'POST',
    url: '/api/runs/batch',
    config: { role: 'operator' },
    schema: {
      operationId: 'createManyRuns',
      summary: 'Start many runs, each checked on its own',
      description: `Up to ${LIMITS.batchRuns} runs, each \`{job, input?, runAt?, priority?, idempotencyKey?}\` as a single create takes. The answer has one result per run, in the order sent: \`{run, created}\` (\`created: false\` when the idempotency key names an earlier run of the caller, also one earlier in the same batch) or \`{error, message, details?}\` with the code a single create would have answered (INVALID_INPUT, JOB_NOT_FOUND, JOB_DISABLED, FORBIDDEN, ALREADY_RUNNING…). A refused run never stops the others.`,
      tags: ['runs'],
      body: createRunsBody,
      response: {
        202: z.object({ results: z.array(batchResultSchema) }),
        400: errorResponse(
          `INVALID_INPUT: the body is not \`{runs: [...]}\` with 1 to ${LIMITS.batchRuns} runs (a bad run is that run's result, not a 400)`,
        ),
      },
    },
    handler: async (request, reply) => {
      const { runs } = request.body;
      const results: BatchResultDto[] = new Array<BatchResultDto>(runs.length);
      const valid: { index: number; item: BatchRunItem }[] = [];
      runs.forEach((raw, index) => {
        const parsed = batchRunItem.safeParse(raw);
        if (parsed.success) valid.push({ index, item: parsed.data });
        else
          results[index] = {
            error: 'INVALID_INPUT',
            message: 'The run is not valid.',
            details: fieldIssues(parsed.error),
          };
      });
      const created = await deck.runs.createMany(
        valid.map(({ item: { job, ...body } }) => ({ job, ...createParamsOf(body) })),
        { principal: request.principal! },
      );
      created.forEach((result, i) => (results[valid[i]!.index] = batchResultDto(result)));
      return reply.status(202).send({ results });
    },
  });

  app.route({
    method: 'POST',
    url: '/api/runs/:id/pause',
    config: { role: 'operator' },
    schema: {
      operationId: 'pauseRun',
      summary:
        'Pause a run: it finishes its current step and waits, holding no worker, until resumed',
      description:
        'Operators may pause their own runs, admins any. A scheduled or pending run, or one waiting for its child runs, is paused at once (`hold-now`; a waiting one waits for them again once resumed); a running one keeps running until its handler reaches its next checkpoint or step, which its worker learns with its next heartbeat (`request`; the run shows `pause`). A paused run is `unchanged`.',
      tags: ['runs'],
      params: runIdParams,
      response: {
        200: z.object({
          run: runSchema,
          action: z.enum(['hold-now', 'request', 'unchanged']),
        }),
        403: NOT_OWNER,
        404: RUN_NOT_FOUND,
        409: errorResponse(
          'RUN_FINISHED: the run has already ended; INVALID_TRANSITION: the run is being cancelled (`run` is the run as it is)',
        ),
      },
    },
    handler: async (request) => {
      const { run, action } = await deck.runs.pause(request.params.id, request.principal!);
      return { run: runDto(run), action: action as 'hold-now' | 'request' | 'unchanged' };
    },
  });

  app.route({
    method: 'POST',
    url: '/api/runs/:id/resume',
    config: { role: 'operator' },
    schema: {
      operationId: 'resumeRun',
      summary: 'Resume a paused run: pending again, it goes on after its last completed step',
      description: 'Operators may resume their own runs, admins any.',
      tags: ['runs'],
      params: runIdParams,
      response: {
        200: z.object({ run: runSchema }),
        403: NOT_OWNER,
        404: RUN_NOT_FOUND,
        409: errorResponse(
          'RUN_NOT_PAUSED: the run is not paused; RUN_FINISHED: it has already ended',
        ),
      },
    },
    handler: async (request) => ({
      run: runDto(await deck.runs.resume(request.params.id, request.principal!)),
    }),
  });

  app.route({
    method: 'POST',
    url: '/api/runs/:id/retry',
    config: { role: 'operator' },
    schema: {
      operationId: 'retryRun',
      summary: 'Start a failed or cancelled run again, as a new run',
      tags: ['runs'],
      params: runIdParams,
      response: {
        202: z.object({ run: runSchema }),
        403: NOT_OWNER,
        404: errorResponse(
          'RUN_NOT_FOUND: no run has this id; JOB_NOT_FOUND: its job is no longer registered',
        ),
        409: errorResponse(
          'RUN_NOT_RETRYABLE: the run is neither failed nor cancelled (`run` is the run as it is); JOB_DISABLED: its job is disabled',
        ),
      },
    },
    handler: async (request, reply) => {
      const run = await deck.runs.retry(request.params.id, request.principal!);
      return reply.status(202).send({ run: runDto(run) });
    },
  });
}
