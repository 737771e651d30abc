/**
 * The ledger jobs as a `--jobs` module for the real command line (`jobdeck serve|worker --jobs
 * test/helpers/ledger-jobs-module.ts`, run under `node --import tsx`). `--jobs` takes a module whose
 * exports are job definitions, while `ledgerJobs` is a factory, so this module calls it with the
 * ledger file named by `JOBDECK_TEST_LEDGER` (default `/dev/null`: an API-only instance never runs a
 * handler) and the worker name `JOBDECK_TEST_WORKER` (default `pid-<pid>`).
 */
import { ledgerJobs } from './ledger-jobs.js';

export const jobs = ledgerJobs({
  ledgerPath: process.env.JOBDECK_TEST_LEDGER || '/dev/null',
  workerId: process.env.JOBDECK_TEST_WORKER || `pid-${process.pid}`,
});
