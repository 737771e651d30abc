// tsc compiles only TypeScript; the stores read their .sql files at run time, so copy them beside
// the output. The dashboard has a build of its own (scripts/build-dashboard.mjs).
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const src = new URL('../src/', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url).pathname;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (path !== join(src, 'dashboard')) walk(path);
    } else if (name.endsWith('.sql')) cpSync(path, join(dist, relative(src, path)));
  }
}
walk(src);
