import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { JobdeckError } from '../core/errors.js';
import type { JobDefinition } from './define.js';

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
export function jobsFromModule(module: Record<string, unknown>): JobDefinition[] {
  const jobs: JobDefinition[] = [];
  for (const value of Object.values(module)) {
    if (isJobDefinition(value)) jobs.push(value);
    else if (Array.isArray(value)) jobs.push(...value.filter(isJobDefinition));
  }
  return [...new Map(jobs.map((job) => [job.name, job])).values()];
}

/** Import a module (a path, or a `file:` URL) and return the job definitions it exports. */
export async function loadJobsModule(pathOrUrl: string): Promise<JobDefinition[]> {
  const url = pathOrUrl.startsWith('file:') ? pathOrUrl : pathToFileURL(resolve(pathOrUrl)).href;
  const jobs = jobsFromModule((await import(url)) as Record<string, unknown>);
  if (jobs.length === 0) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `${pathOrUrl} exports no job definitions (made with defineJob).`,
    );
  }
  return jobs;
}
