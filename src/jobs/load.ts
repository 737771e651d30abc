import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

const TYPESCRIPT = ['.ts', '.mts', '.cts'];

/**
 * Import a module (a path, or a `file:` URL) and return the job definitions it exports. A
 * TypeScript file, which Node 20 does not load by itself, is loaded through tsx when its project
 * (or Jobdeck's) has it; without tsx the error says what to do.
 */
export async function loadJobsModule(pathOrUrl: string): Promise<JobDefinition[]> {
  const url = pathOrUrl.startsWith('file:') ? pathOrUrl : pathToFileURL(resolve(pathOrUrl)).href;
  // Before the first import: a module that failed to load stays failed for this process.
  const typescript = TYPESCRIPT.includes(extname(fileURLToPath(url)));
  if (typescript) await registerTsx(url);
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    if (!typescript || (err as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    throw new JobdeckError(
      'INVALID_INPUT',
      `${pathOrUrl} is TypeScript, which Node ${process.version} does not load by itself: install tsx in its project (npm install --save-dev tsx) and jobdeck loads it through tsx, or compile it (tsc) and pass the .js file.`,
      { cause: err },
    );
  }
  const jobs = jobsFromModule(module);
  if (jobs.length === 0) {
    throw new JobdeckError(
      'INVALID_INPUT',
      `${pathOrUrl} exports no job definitions (made with defineJob).`,
    );
  }
  return jobs;
}

/** Whether tsx's loader was registered by this module already (once per thread is enough). */
let tsxRegistered = false;

/**
 * Register tsx's loader, found beside the jobs module (its project) or beside Jobdeck; nothing
 * when neither has it (Node may load TypeScript by itself, or run with `--import tsx`).
 */
async function registerTsx(moduleUrl: string): Promise<void> {
  if (tsxRegistered) return;
  for (const from of [moduleUrl, import.meta.url]) {
    let api: URL;
    try {
      api = tsxEsmApi(createRequire(from).resolve('tsx/package.json'));
    } catch {
      continue;
    }
    const tsx = (await import(api.href)) as { register: () => unknown };
    tsx.register();
    tsxRegistered = true;
    return;
  }
}

/** The ES module of tsx's API (`tsx/esm/api`, its `import` condition) from its package.json. */
function tsxEsmApi(packageJson: string): URL {
  const { exports } = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    exports: Record<string, { import: string | { default: string } }>;
  };
  const entry = exports['./esm/api']!.import;
  return new URL(typeof entry === 'string' ? entry : entry.default, pathToFileURL(packageJson));
}
