import { readFileSync } from 'node:fs';

/** The version of this Jobdeck package, from package.json (src/ and dist/ sit beside it alike). */
export const JOBDECK_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
