import { readFileSync } from 'node:fs';

/** This Jobdeck package's package.json (src/ and dist/ sit beside it alike). */
const PACKAGE = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
  license: string;
};

/** The version of this Jobdeck package, from package.json. */
export const JOBDECK_VERSION: string = PACKAGE.version;

/** The SPDX id of this package's license, from package.json. */
export const JOBDECK_LICENSE: string = PACKAGE.license;
