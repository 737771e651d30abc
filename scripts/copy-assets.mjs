// tsc compiles only TypeScript; the stores read their .sql files and the dashboard its pages, styles
// and scripts at run time, so copy them beside the output.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const src = new URL('../src/', import.meta.url).pathname;
const dist = new URL('../dist/', import.meta.url).pathname;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    // The dashboard's scripts are browser files, served as they are (not compiled).
    else if (
      /\.(sql|html|css|svg)$/.test(name) ||
      (dir.endsWith('/dashboard') && name.endsWith('.js'))
    )
      cpSync(path, join(dist, relative(src, path)));
  }
}
walk(src);
