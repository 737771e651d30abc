import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/temp.js';
import { loadMigrations } from './sql-files.js';

describe('loadMigrations', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  function folder(files: string[]): string {
    const { dir, cleanup } = tempDir('jobdeck-migrations-');
    cleanups.push(cleanup);
    for (const file of files) writeFileSync(join(dir, file), `-- ${file}\n`);
    return dir;
  }

  it('lists migrations in number order, a missing number included', () => {
    const dir = folder(['0003_c.sql', '0001_a.sql', '0002_b.sql', '0005_e.sql']);
    expect(loadMigrations(dir).map((m) => [m.version, m.name])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [5, 'e'],
    ]);
  });

  it('refuses a number used twice and a file not named NNNN_name.sql', () => {
    expect(() => loadMigrations(folder(['0001_a.sql', '0001_b.sql']))).toThrow(/used twice/);
    expect(() => loadMigrations(folder(['0001_a.sql', '2_b.sql']))).toThrow(/NNNN_name/);
  });
});
