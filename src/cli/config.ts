import { DEFAULT_DB } from '../store/open.js';

/** Flags win over environment variables, which win over defaults. */
export function pick<T>(flag: T | undefined, env: string | undefined, fallback: T, parse: (raw: string) => T): T {
  if (flag !== undefined) return flag;
  if (env !== undefined && env !== '') return parse(env);
  return fallback;
}

export interface InstanceConfig {
  db: string;
  concurrency: number;
}

export function instanceConfig(flags: { db?: string; concurrency?: number }, env = process.env): InstanceConfig {
  return {
    db: pick(flags.db, env.JOBDECK_DB, DEFAULT_DB, String),
    concurrency: pick(flags.concurrency, env.JOBDECK_CONCURRENCY, 10, Number),
  };
}
