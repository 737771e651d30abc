import type { Command } from 'commander';
import type { JobdeckClient, LogInfo } from '../client/client.js';
import { isTerminal } from '../core/status.js';
import { addClientOptions, clientFrom, handled, type ClientFlags } from './output.js';

interface LogsFlags extends ClientFlags {
  follow?: boolean;
}

function format(entry: LogInfo, json: boolean | undefined): string {
  if (json) return JSON.stringify(entry);
  return `${entry.time} ${entry.level.padEnd(5)} ${entry.message}${entry.data === undefined ? '' : ' ' + JSON.stringify(entry.data)}`;
}

/** Print a run's logs; with `follow`, keep printing until the run finishes. */
export async function printLogs(
  client: JobdeckClient,
  id: string,
  follow: boolean,
  json?: boolean,
): Promise<void> {
  let last = 0;
  const printNew = async () => {
    for (const entry of await client.logs(id, last)) {
      last = Math.max(last, entry.seq);
      process.stdout.write(format(entry, json) + '\n');
    }
  };
  await printNew();
  if (!follow || isTerminal((await client.run(id)).status)) return;
  const stop = new AbortController();
  await client.events(
    { run: id },
    (event) => {
      if (event.name === 'run.log') {
        const entry = (event.data as { entry: LogInfo }).entry;
        if (entry.seq > last) {
          last = entry.seq;
          process.stdout.write(format(entry, json) + '\n');
        }
      } else if (event.name === 'run.finished') {
        stop.abort();
      }
    },
    {
      signal: stop.signal,
      onOpen: () => {
        // Whatever happened before the stream opened is read once more, then the stream carries the rest.
        void printNew().then(async () => {
          if (isTerminal((await client.run(id)).status)) stop.abort();
        });
      },
    },
  );
  await printNew();
}

export function logsCommand(program: Command): void {
  addClientOptions(
    program
      .command('logs <id>')
      .description("print a run's logs")
      .option('-f, --follow', 'keep printing until the run finishes'),
  ).action(
    handled(async (id: string, flags: LogsFlags) => {
      await printLogs(clientFrom(flags), id, flags.follow ?? false, flags.json);
    }),
  );
}
