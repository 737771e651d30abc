import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { describeRuntimeConformance } from './runtime-conformance/index.js';
import { tempDbPath } from './helpers/temp.js';

describeRuntimeConformance(
  'sqlite',
  async () => {
    const { path, cleanup } = tempDbPath();
    return {
      // Each instance opens the file on its own connection, as processes on one host would.
      openStore: () => new SqliteStore({ path }),
      cleanup: async () => cleanup(),
    };
  },
  // A SQLite lock held elsewhere blocks the waiting writer's event loop.
  { rowLocks: false },
);
