import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The default database: a SQLite file under the working folder. */
export const DEFAULT_DB = './.jobdeck/jobdeck.db';

/**
 * Open the store a `--db` value names: a `postgres://` URL (an optional `schema` query parameter
 * picks a schema of its own), or a SQLite file path (`sqlite:` prefix optional).
 */
export function openStore(
  db: string = DEFAULT_DB,
  options: { onError?: (err: unknown, where: string) => void } = {},
): Store {
  if (/^postgres(ql)?:\/\//.test(db)) {
    const url = new URL(db);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return new PostgresStore({
      connectionString: url.toString(),
      ...(schema ? { schema } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  return new SqliteStore({ path: db.replace(/^sqlite:/, '') });
}
