import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Read every `.sql` file of a folder and split it into named queries (`-- name: runClaim`).
 * Both backends name their queries the same, so a query can be looked up across dialects.
 */
export function loadNamedQueries(dir: string): Map<string, string> {
  const queries = new Map<string, string>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    const parts = text.split(/^-- name: *(\w+) *$/m);
    for (let i = 1; i < parts.length; i += 2) {
      const name = parts[i]!;
      if (queries.has(name)) throw new Error(`query ${name} is defined twice (${file})`);
      queries.set(name, parts[i + 1]!.trim());
    }
  }
  return queries;
}

/** One migration file: `NNNN_name.sql`. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The migrations of a folder, in order; refuses duplicate numbers. A number may be skipped: each
 * migration is applied once by its number, whenever it arrives.
 */
export function loadMigrations(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file ${file} is not named NNNN_name.sql`);
      return {
        version: Number(match[1]),
        name: match[2]!,
        sql: readFileSync(join(dir, file), 'utf8'),
      };
    });
  migrations.forEach((m, index) => {
    if (index > 0 && m.version === migrations[index - 1]!.version)
      throw new Error(`migration ${m.version} is numbered twice`);
  });
  return migrations;
}
