import { JobdeckError } from '../core/errors.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The default database: a SQLite file under the working folder. */
export const DEFAULT_DB = './.jobdeck/jobdeck.db';

/** Open the store a `--db` value names: a `postgres://` URL, or a SQLite file path (`sqlite:` prefix optional). */
export function openStore(db: string = DEFAULT_DB): Store {
  if (/^postgres(ql)?:\/\//.test(db)) {
    throw new JobdeckError(
      'INVALID_INPUT',
      'The PostgreSQL store is not available in this version; use a SQLite file.',
    );
  }
  return new SqliteStore({ path: db.replace(/^sqlite:/, '') });
}
