import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { isCancellation, type CancelMode } from '../../src/core/cancellation.js';
import { defineJob, type JobDefinition } from '../../src/jobs/define.js';

/** The job the multi-process tests run: it writes what it does to a ledger file shared by all processes. */
export const LEDGER_JOB = 'ledger';

export const ledgerInput = z.object({
  /** Steps to run, one after the other, each through `ctx.step`. */
  steps: z.number().int().positive().default(1),
  /** How long each step works on the first attempt (honours `ctx.signal`). */
  stepMs: z.number().int().nonnegative(),
  /** How long each step works on later attempts; defaults to `stepMs`. */
  retryStepMs: z.number().int().nonnegative().optional(),
});
export type LedgerInput = z.input<typeof ledgerInput>;

export type LedgerEvent = 'start' | 'step-start' | 'step-end' | 'stopped' | 'end';

/** One line of the ledger: which attempt of which run did what, where and when. */
export interface LedgerLine {
  runId: string;
  attempt: number;
  workerId: string;
  pid: number;
  event: LedgerEvent;
  step?: number;
  /** For `stopped`: why the handler stopped (the error it threw). */
  error?: string;
  /** For `stopped`: the cancel the handler observed, when a cancel is what stopped it. */
  cancel?: CancelMode;
  t: number;
}

export interface LedgerResult {
  workerId: string;
  pid: number;
  attempt: number;
  steps: number;
}

/**
 * The test jobs. `ledger` appends `start`, `step-start`/`step-end` per step, and `end` (or
 * `stopped` when it throws) to `ledgerPath`, one JSON line each, with `fs.appendFileSync` so a
 * line is on disk before the handler goes on. Steps wait with the attempt's signal, so a forced
 * cancel stops them at once, and run through `ctx.step`, so a graceful cancel lets the current
 * step finish and starts no new one.
 */
export function ledgerJobs(options: { ledgerPath: string; workerId: string }): JobDefinition[] {
  const { ledgerPath, workerId } = options;
  const record = (line: Omit<LedgerLine, 'workerId' | 'pid' | 't'>) =>
    appendFileSync(
      ledgerPath,
      JSON.stringify({ ...line, workerId, pid: process.pid, t: Date.now() }) + '\n',
    );

  const ledger = defineJob({
    name: LEDGER_JOB,
    input: ledgerInput,
    maxAttempts: 3,
    forceGrace: 1000,
    async run(ctx, input): Promise<LedgerResult> {
      const { id: runId, attempt } = ctx.run;
      const stepMs = attempt === 1 ? input.stepMs : (input.retryStepMs ?? input.stepMs);
      record({ runId, attempt, event: 'start' });
      ctx.log.info('work started', { workerId, attempt });
      try {
        for (let step = 0; step < input.steps; step++) {
          await ctx.step(`step-${step}`, async (signal) => {
            record({ runId, attempt, event: 'step-start', step });
            ctx.log.info('step started', { step });
            await delay(stepMs, undefined, { signal });
            record({ runId, attempt, event: 'step-end', step });
            ctx.log.info('step finished', { step });
          });
          ctx.progress({ processed: step + 1, total: input.steps });
        }
      } catch (err) {
        // A forced cancel surfaces as the step's AbortError; the signal's reason says why.
        const cause: unknown = ctx.signal.aborted ? ctx.signal.reason : err;
        const cancel = isCancellation(cause) && cause.kind === 'cancel' ? cause.mode : undefined;
        record({ runId, attempt, event: 'stopped', error: String(err), ...(cancel && { cancel }) });
        throw err;
      }
      record({ runId, attempt, event: 'end' });
      return { workerId, pid: process.pid, attempt, steps: input.steps };
    },
  });
  return [ledger];
}

/** Every complete line of the ledger so far (a line still being written is left out). */
export function readLedger(ledgerPath: string): LedgerLine[] {
  if (!existsSync(ledgerPath)) return [];
  const text = readFileSync(ledgerPath, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as LedgerLine);
}
