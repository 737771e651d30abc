/**
 * A second process for the benchmark, attached to the queue of the parent's adapter:
 *
 *   node --import tsx bench/child.ts '<json: { role, config, concurrency? }>'
 *
 * role `worker`: runs a worker (concurrency 1 unless told) whose handler reports
 *   `{ type: 'started', id, t, pid }` over IPC and then holds for the payload's `ms` or until the
 *   system aborts it; reports `{ type: 'ready', t }` once started.
 * role `client`: answers `{ type: 'cancel', seq, id }` with `{ type: 'cancelled', seq, id, t0, t1,
 *   outcome }` (t0/t1: wall clock around the cancel call, ms with sub-ms resolution), and
 *   `{ type: 'enqueue', seq, data }` with `{ type: 'enqueued', seq, id, t0 }` (t0: wall clock just
 *   before the create call).
 * Either role exits when the parent goes away or sends `{ type: 'exit' }`.
 */
import { createAdapter } from './adapters/index.js';
import type { AdapterConfig, Payload } from './adapters/types.js';
import { epochMs } from './lib/stats.js';
import { holdFor } from './lib/wait.js';

interface ChildArgs {
  role: 'worker' | 'client';
  config: AdapterConfig;
  concurrency?: number;
}

type Message =
  | { type: 'cancel'; seq: number; id: string }
  | { type: 'enqueue'; seq: number; data: Payload }
  | { type: 'exit' };

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const send = (message: unknown) => {
  if (process.connected) process.send!(message);
};

const adapter = createAdapter(args.config);
await adapter.setup({ fresh: false });

let exiting = false;
async function exit(): Promise<void> {
  if (exiting) return;
  exiting = true;
  const timer = setTimeout(() => process.exit(0), 3000);
  timer.unref();
  await worker?.stop().catch(() => {});
  await adapter.teardown({ drop: false }).catch(() => {});
  process.exit(0);
}
process.on('disconnect', () => void exit());

const worker =
  args.role === 'worker'
    ? await adapter.startWorker({
        concurrency: args.concurrency ?? 1,
        handler: async ({ id, data, signal }) => {
          send({ type: 'started', id, t: epochMs(), pid: process.pid });
          await holdFor(data.ms ?? 0, signal);
        },
      })
    : null;

process.on('message', (message: Message) => {
  if (message.type === 'exit') void exit();
  else if (message.type === 'enqueue') {
    const t0 = epochMs();
    adapter.enqueue(message.data).then(
      (id) => send({ type: 'enqueued', seq: message.seq, id, t0 }),
      (err: unknown) =>
        send({ type: 'enqueued', seq: message.seq, t0, error: (err as Error).message }),
    );
  } else if (message.type === 'cancel') {
    const t0 = epochMs();
    adapter.cancel(message.id).then(
      (outcome) =>
        send({ type: 'cancelled', seq: message.seq, id: message.id, t0, t1: epochMs(), outcome }),
      (err: unknown) =>
        send({
          type: 'cancelled',
          seq: message.seq,
          id: message.id,
          t0,
          t1: epochMs(),
          outcome: { accepted: false, detail: `threw: ${(err as Error).message}` },
        }),
    );
  }
});
send({ type: 'ready', t: epochMs(), pid: process.pid });
