import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import type { RunInfo } from '../client/client.js';
import { isTerminal, type RunStatus } from '../core/status.js';
import {
  addClientOptions,
  clientFrom,
  describeRun,
  exitCodeOf,
  handled,
  printJson,
  type ClientFlags,
} from './output.js';

export function watchCommand(program: Command): void {
  addClientOptions(
    program
      .command('watch <id>')
      .description(
        'follow a run live until it finishes; exit code 0 completed, 1 failed, 2 cancelled, 3 partial',
      ),
  ).action(
    handled(async (id: string, flags: ClientFlags) => {
      const client = clientFrom(flags);
      const tty = process.stdout.isTTY && !flags.json;
      const bar = tty
        ? new SingleBar(
            { format: '{bar} {percentage}% | {status} {message}', hideCursor: true },
            Presets.shades_classic,
          )
        : null;
      let lastLine = '';
      const show = (run: Pick<RunInfo, 'status' | 'progress'> & Partial<RunInfo>) => {
        const percent = run.progress?.percent ?? 0;
        const message = run.progress?.message ?? '';
        if (bar) {
          bar.update(Math.round(percent), { status: run.status, message });
          return;
        }
        const line = flags.json
          ? JSON.stringify({ status: run.status, progress: run.progress })
          : `${run.status} ${run.progress?.percent != null ? `${run.progress.percent}%` : ''}${message ? ' ' + message : ''}`.trim();
        if (line !== lastLine) process.stdout.write(line + '\n');
        lastLine = line;
      };
      let run = await client.run(id);
      bar?.start(100, 0, { status: run.status, message: '' });
      let status = run.status as string;
      if (!isTerminal(run.status)) {
        show(run);
        const stop = new AbortController();
        await client.follow(
          { run: id },
          (event) => {
            const data = event.data as { run?: RunInfo & { progress: RunInfo['progress'] } };
            if (!data.run) return;
            if (event.name === 'run.progress')
              show({ status: status as RunStatus, progress: data.run.progress });
            else {
              status = data.run.status;
              show(data.run);
            }
            if (event.name === 'run.finished') stop.abort();
          },
          {
            signal: stop.signal,
            onOpen: () => {
              // The run may have finished before the stream opened.
              void client.run(id).then((current) => {
                if (isTerminal(current.status)) stop.abort();
              });
            },
          },
        );
        run = await client.run(id);
      }
      bar?.stop();
      if (flags.json) printJson(run);
      else process.stdout.write(describeRun(run) + '\n');
      process.exitCode = exitCodeOf(run.status);
    }),
  );
}
