import { JobdeckError } from '../core/errors.js';
import type { JobDefinition } from './define.js';

/** The jobs this process knows, by name. Run-time enabled flags live in the store, shared. */
export class JobRegistry {
  private readonly jobs = new Map<string, JobDefinition>();

  constructor(jobs: Iterable<JobDefinition> = []) {
    for (const job of jobs) this.register(job);
  }

  register(job: JobDefinition): this {
    if (this.jobs.has(job.name)) {
      throw new JobdeckError('INVALID_INPUT', `A job named ${job.name} is already registered.`);
    }
    this.jobs.set(job.name, job);
    return this;
  }

  get(name: string): JobDefinition | undefined {
    return this.jobs.get(name);
  }

  /** The job, or JOB_NOT_FOUND. */
  require(name: string): JobDefinition {
    const job = this.jobs.get(name);
    if (!job)
      throw new JobdeckError('JOB_NOT_FOUND', `No job is registered as ${JSON.stringify(name)}.`);
    return job;
  }

  list(): JobDefinition[] {
    return [...this.jobs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
