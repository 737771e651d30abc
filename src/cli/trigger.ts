import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { JobdeckClient, TriggerManyItem, TriggerManyResult } from '../client/client.js';
import { RUN_BATCH_MAX } from '../core/run.js';
import { countOf } from '../core/text.js';
import {
  EXIT_CODES,
  addClientOptions,
  clientFrom,
  describeRun,
  handled,
  printJson,
  type ClientFlags,
} from './output.js';

interface TriggerFlags extends ClientFlags {
  input?: string;
  inputFile?: string;
  runAt?: string;
  priority?: string;
  idempotencyKey?: string;
}

/**
 * The most JSON one batch request carries: well under the server's default body limit (1 MiB),
 * so a file of large inputs is sent in more, smaller requests instead of being refused.
 */
const BATCH_BYTES = 768 * 1024;
/** Refused runs printed one by one; past these, a count. */
const FAILURES_SHOWN = 10;

/** One input of an input file, with the line it came from. */
export interface InputLine {
  line: number;
  input: unknown;
}

/**
 * The inputs of an ndjson text: one JSON value per line, blank lines skipped. A line that is not
 * JSON is an error naming it, and so is a text with no input at all.
 */
export function parseInputLines(text: string, source: string): InputLine[] {
  const inputs: InputLine[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      if (raw.trim() === '') return;
      try {
        inputs.push({ line: index + 1, input: JSON.parse(raw) as unknown });
      } catch (err) {
        throw new Error(
          `${source} line ${index + 1} is not valid JSON (${(err as Error).message}); give one JSON input per line`,
        );
      }
    });
  if (inputs.length === 0) throw new Error(`${source} has no inputs: give one JSON input per line`);
  return inputs;
}

/** Split runs into requests of at most `maxCount` runs and about `maxBytes` of JSON each. */
export function batchesOf<T>(runs: T[], maxCount: number, maxBytes: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const run of runs) {
    const size = Buffer.byteLength(JSON.stringify(run)) + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(run);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** What became of the runs of a file: counts, and the refused ones with their lines. */
function tally(results: (TriggerManyResult & { line: number })[]) {
  const refused = results.flatMap((result) => ('error' in result ? [result] : []));
  const created = results.filter((result) => 'run' in result && result.created).length;
  return { created, existing: results.length - created - refused.length, refused };
}

/** The text of an input file, or of stdin for `-` (read to its end). */
async function readInputFile(path: string): Promise<string> {
  try {
    if (path !== '-') return readFileSync(path, 'utf8');
    let text = '';
    for await (const chunk of process.stdin.setEncoding('utf8')) text += chunk as string;
    return text;
  } catch (err) {
    throw new Error(`--input-file ${path} cannot be read: ${(err as Error).message}`);
  }
}

/** Start one run of `job` per line of `path` (`-`: stdin), in batches; print what became of them. */
async function triggerFromFile(client: JobdeckClient, job: string, flags: TriggerFlags) {
  const path = flags.inputFile!;
  const source = path === '-' ? 'stdin' : path;
  const lines = parseInputLines(await readInputFile(path), source);
  const runs: (TriggerManyItem & { line: number })[] = lines.map(({ line, input }) => ({
    line,
    job,
    input,
    ...(flags.runAt ? { runAt: flags.runAt } : {}),
    ...(flags.priority ? { priority: Number(flags.priority) } : {}),
    // One key per line: sending the same file again starts none of its runs twice.
    ...(flags.idempotencyKey ? { idempotencyKey: `${flags.idempotencyKey}:${line}` } : {}),
  }));
  const results: (TriggerManyResult & { line: number })[] = [];
  for (const batch of batchesOf(runs, RUN_BATCH_MAX, BATCH_BYTES)) {
    let answers: TriggerManyResult[];
    try {
      answers = await client.triggerMany(batch.map(({ line: _line, ...run }) => run));
    } catch (err) {
      if (results.length > 0) {
        const { created, existing, refused } = tally(results);
        process.stderr.write(
          `jobdeck: lines ${runs[0]!.line}–${results.at(-1)!.line} of ${source} were sent before this failure: created ${created}, existing ${existing}, failed ${refused.length}\n`,
        );
      }
      throw err;
    }
    answers.forEach((answer, i) => results.push({ line: batch[i]!.line, ...answer }));
  }
  const { created, existing, refused } = tally(results);
  if (refused.length > 0) process.exitCode = EXIT_CODES.refused.code;
  if (flags.json) return printJson({ created, existing, failed: refused.length, results });
  process.stdout.write(
    `created ${created}, existing ${existing}, failed ${refused.length} (${countOf(results.length, 'run')} of ${job} from ${source})\n`,
  );
  for (const failure of refused.slice(0, FAILURES_SHOWN)) {
    process.stderr.write(`line ${failure.line}: ${failure.error}: ${failure.message}\n`);
    for (const d of failure.details ?? [])
      process.stderr.write(`  ${d.path.join('.')}: ${d.message}\n`);
  }
  if (refused.length > FAILURES_SHOWN)
    process.stderr.write(`… and ${refused.length - FAILURES_SHOWN} more (--json lists them all)\n`);
}

export function triggerCommand(program: Command): void {
  addClientOptions(
    program
      .command('trigger <job>')
      .description('start a run of a job, or one run per line of --input-file')
      .option('--input <json>', 'the run input as JSON (default {})')
      .option(
        '--input-file <path>',
        `start one run per line of this file, each line a JSON input (blank lines skipped; - reads stdin); sent ${RUN_BATCH_MAX} runs a request at most`,
      )
      .option('--run-at <time>', 'start no earlier than this ISO time')
      .option('--priority <n>', 'higher runs first')
      .option(
        '--idempotency-key <key>',
        'a second trigger with the same key returns the first run; with --input-file, line N uses <key>:N',
      )
      .addHelpText(
        'after',
        [
          '',
          'With --input-file it prints how many runs were created, already existed (their',
          'idempotency key named an earlier run) or failed, and the first failures with their',
          'lines; it exits 4 when any run was refused. Example:',
          '',
          '  printf \'{"steps":3,"stepMs":100}\\n{"steps":5,"stepMs":100}\\n\' > runs.ndjson',
          '  jobdeck trigger demo.steps --input-file runs.ndjson --idempotency-key import-1',
        ].join('\n'),
      ),
  ).action(
    handled(async (job: string, flags: TriggerFlags) => {
      if (flags.inputFile !== undefined) {
        if (flags.input !== undefined) throw new Error('give --input or --input-file, not both');
        return triggerFromFile(clientFrom(flags), job, flags);
      }
      let input: unknown;
      try {
        input = JSON.parse(flags.input ?? '{}');
      } catch {
        throw new Error(`--input is not valid JSON: ${flags.input}`);
      }
      const { run, created } = await clientFrom(flags).trigger(job, {
        input,
        ...(flags.runAt ? { runAt: flags.runAt } : {}),
        ...(flags.priority ? { priority: Number(flags.priority) } : {}),
        ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
      });
      if (flags.json) return printJson({ run, created });
      process.stdout.write(`${created ? 'started' : 'already existed'}: ${describeRun(run)}\n`);
    }),
  );
}
