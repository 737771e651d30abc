// `npm start`: build when the output is missing or older than the sources, then serve the demo.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository root from this file's own location, whatever the working folder (a URL's
// pathname would keep %20 and the like, and is no path on Windows).
const root = fileURLToPath(new URL('..', import.meta.url));

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry) || statSync(entry).mtimeMs < newestMtime(join(root, 'src'))) {
  console.log('Building jobdeck…');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
const child = spawn(
  process.execPath,
  [join(root, 'bin', 'jobdeck.js'), 'serve', '--demo', ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
