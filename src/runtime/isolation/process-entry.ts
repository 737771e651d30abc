import type { FromIsolate, ToIsolate } from './protocol.js';
import { serveIsolate } from './isolate.js';

// A child process that runs one handler of a `process` job, then exits.
serveIsolate({
  send: (message: FromIsolate) => {
    process.send!(message);
  },
  onMessage: (listener) => process.on('message', (message) => listener(message as ToIsolate)),
  exit: () => process.exit(0),
});
// The parent going away means the attempt is over.
process.on('disconnect', () => process.exit(0));
