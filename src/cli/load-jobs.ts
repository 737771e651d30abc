import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { JobdeckError } from '../core/errors.js';
import type { JobDefinition } from '../jobs/define.js';

function isJobDefinition(value: unknown): value is JobDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as JobDefinition).name === 'string' &&
    typeof (value as JobDefinition).run === 'function' &&
    typeof (value as JobDefinition).maxAttempts === 'number'
  );
}

/** The job definitions a module exports: each exported definition, or arrays of them. */
export async function loadJobsModule(path: string): Promise<JobDefinition[]> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const jobs: JobDefinition[] = [];
  for (const value of Object.values(module)) {
    if (isJobDefinition(value)) jobs.push(value);
    else if (Array.isArray(value)) jobs.push(...value.filter(isJobDefinition));
  }
  const unique = [...new Map(jobs.map((job) => [job.name, job])).values()];
  if (unique.length === 0) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `${path} exports no job definitions (made with defineJob).`,
    );
  }
  return unique;
}
