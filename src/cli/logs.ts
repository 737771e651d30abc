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
  const print = (entry: LogInfo) => {
    if (entry.seq <= last) return;
    last = entry.seq;
    process.stdout.write(format(entry, json) + '\n');
  };
  // Reads over HTTP and entries from the stream take turns in one queue: a read still in flight
  // when a streamed entry arrives would otherwise print that entry twice, or an older one after it.
  let queue: Promise<void> = Promise.resolve();
  const printNew = () =>
    (queue = queue.then(async () => {
      for (const entry of await client.logs(id, last)) print(entry);
    }));
  await printNew();
  if (!follow || isTerminal((await client.run(id)).status)) return;
  const stop = new AbortController();
  await client.follow(
    { run: id },
    (event) => {
      if (event.name === 'run.log') {
        const entry = (event.data as { entry: LogInfo }).entry;
        queue = queue.then(() => print(entry));
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
