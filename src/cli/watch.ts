import type { Command } from 'commander';
import type { JobdeckClient, RunInfo } from '../client/client.js';
import { formatDuration } from '../core/duration.js';
import { isTerminal } from '../core/status.js';
import {
  EXIT_CODES,
  addClientOptions,
  clientFrom,
  describeRun,
  exitCodeOf,
  handled,
  printJson,
  type ClientFlags,
} from './output.js';

type Watched = Pick<RunInfo, 'status' | 'progress' | 'startedAt'> & {
  /** When this progress was seen (ms since epoch), from which the ETA counts down. */
  progressAt?: number;
};

/**
 * Where a run is, on one line: status, percent, processed/total, message, time since it started
 * and, while it runs, the time left at the pace it had when its progress last moved (ETA).
 */
export function progressLine(run: Watched, now = Date.now()): string {
  const { processed, total, percent, message } = run.progress ?? {};
  const parts: string[] = [];
  if (processed != null) parts.push(total != null ? `${processed}/${total}` : `${processed} done`);
  if (message) parts.push(message);
  const active = run.status === 'running' || run.status === 'cancelling';
  if (active && run.startedAt) {
    const started = Date.parse(run.startedAt);
    parts.push(`${formatDuration(Math.max(0, now - started))} elapsed`);
    const done =
      percent != null ? percent / 100 : processed != null && total ? processed / total : null;
    const at = run.progressAt ?? now;
    const spent = at - started;
    if (run.status === 'running' && done !== null && done > 0 && done < 1 && spent > 0) {
      const left = (spent * (1 - done)) / done - (now - at);
      // Behind the pace so far: due now rather than a negative time.
      parts.push(`ETA ${left > 0 ? formatDuration(left) : 'now'}`);
    }
  }
  const head = `${run.status}${percent != null ? ` ${percent}%` : ''}`;
  return [head, ...parts].join(' · ');
}

export function watchCommand(program: Command): void {
  addClientOptions(
    program
      .command('watch <id>')
      .description(
        'follow a run live until it ends, its exit code saying how (Ctrl-C stops watching, not the run)',
      ),
  ).action(
    handled(async (id: string, flags: ClientFlags) => {
      const run = await watchRun(clientFrom(flags), id, flags.json ?? false);
      process.exitCode = isTerminal(run.status) ? exitCodeOf(run.status) : EXIT_CODES.failed.code;
    }),
  );
}

/** Print a run's changes until it ends (a bar on a terminal, a line each otherwise), then the run. */
export async function watchRun(client: JobdeckClient, id: string, json: boolean): Promise<RunInfo> {
  const tty = process.stdout.isTTY && !json;
  // Loaded only for a terminal: the other commands start faster without it.
  const progress = tty ? await import('cli-progress') : null;
  const bar = progress
    ? new progress.SingleBar(
        { format: '{bar} | {line}', hideCursor: true },
        progress.Presets.shades_classic,
      )
    : null;
  const first = await client.run(id);
  let current: Watched = { ...first, progressAt: Date.now() };
  let lastLine = '';
  const show = () => {
    if (bar) {
      bar.update(Math.round(current.progress?.percent ?? 0), { line: progressLine(current) });
      return;
    }
    const line = json
      ? JSON.stringify({ status: current.status, progress: current.progress })
      : progressLine(current);
    if (line !== lastLine) process.stdout.write(line + '\n');
    lastLine = line;
  };
  if (!isTerminal(first.status)) {
    bar?.start(100, 0, { line: progressLine(current) });
    // The bar's clock: elapsed and ETA move between events too.
    const tick = bar ? setInterval(show, 1000) : null;
    // Ctrl-C ends the watch, not the run; the bar gives the cursor back.
    const interrupted = () => {
      if (tick) clearInterval(tick);
      bar?.stop();
      process.stderr.write(
        `jobdeck: stopped watching ${id}; the run goes on (jobdeck cancel ${id} stops it)\n`,
      );
      process.exit(EXIT_CODES.interrupted.code);
    };
    process.once('SIGINT', interrupted);
    show();
    const stop = new AbortController();
    // How many events of each kind were applied: a read over HTTP that one overtook is older.
    let statusEvents = 0;
    let progressEvents = 0;
    await client.follow(
      { run: id },
      (event) => {
        const data = event.data as { run?: RunInfo };
        if (!data.run) return;
        // A progress event carries the progress; the status stays the one last seen.
        const seen = { progress: data.run.progress, progressAt: Date.now() };
        if (event.name === 'run.progress') {
          progressEvents++;
          current = { ...current, ...seen };
        } else {
          statusEvents++;
          progressEvents++;
          current = { status: data.run.status, startedAt: data.run.startedAt, ...seen };
        }
        show();
        if (event.name === 'run.finished') stop.abort();
      },
      {
        signal: stop.signal,
        onOpen: () => {
          // What changed between the first read and the stream's opening is read once more:
          // the run may have started, moved or finished meanwhile.
          const before = { statusEvents, progressEvents };
          void client.run(id).then(
            (run) => {
              if (isTerminal(run.status)) return stop.abort();
              if (statusEvents === before.statusEvents)
                current = { ...current, status: run.status, startedAt: run.startedAt };
              if (progressEvents === before.progressEvents)
                current = { ...current, progress: run.progress, progressAt: Date.now() };
              show();
            },
            // The stream goes on; its events carry what this read would have shown.
            () => undefined,
          );
        },
      },
    );
    if (tick) clearInterval(tick);
    process.off('SIGINT', interrupted);
  }
  const run = isTerminal(first.status) ? first : await client.run(id);
  bar?.stop();
  if (json) printJson(run);
  else process.stdout.write(describeRun(run) + '\n');
  return run;
}
