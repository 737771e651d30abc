import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The default database: a SQLite file under the working folder. */
export const DEFAULT_DB = './.jobdeck/jobdeck.db';

/**
 * Open the store a `--db` value names: a `postgres://` URL (optional query parameters: `schema`,
 * a schema of its own; `notify=false`, no LISTEN/NOTIFY), or a SQLite file path (`sqlite:` optional).
 */
export function openStore(
  db: string = DEFAULT_DB,
  options: { onError?: (err: unknown, where: string) => void } = {},
): Store {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const url = new URL(db);
    const schema = url.searchParams.get('schema') ?? undefined;
    // notify=false turns LISTEN/NOTIFY off (e.g. behind PgBouncer in transaction mode): everyone polls.
    const notify = url.searchParams.get('notify') !== 'false';
    url.searchParams.delete('schema');
    url.searchParams.delete('notify');
    return new PostgresStore({
      connectionString: url.toString(),
      notify,
      ...(schema ? { schema } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return new SqliteStore({ path: db.replace(/^sqlite:/, '') });
}
