import { parentPort } from 'node:worker_threads';
import type { FromIsolate, ToIsolate } from './protocol.js';
import { serveIsolate } from './isolate.js';

// A worker thread that runs handlers of `thread` jobs, one at a time, for as long as the pool keeps it.
const port = parentPort!;
serveIsolate({
  send: (message: FromIsolate) => port.postMessage(message),
  onMessage: (listener) => port.on('message', (message: ToIsolate) => listener(message)),
  exit: () => {},
});
