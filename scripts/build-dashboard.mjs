// The dashboard: one JS bundle (Preact and uPlot, built by esbuild) and its CSS (uPlot's imported
// into it), written with the pages to dist/dashboard/, where every instance serves them from. Run by `npm run build` and before tests.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src/dashboard');
const out = join(root, 'dist/dashboard');

/** Builds the dashboard; returns the gzipped size of the app's JavaScript in bytes. */
export async function buildDashboard() {
  mkdirSync(join(out, 'assets'), { recursive: true });
  await build({
    entryPoints: { app: join(src, 'app/main.tsx') },
    outdir: join(out, 'assets'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(src, 'app.css'), join(src, 'sign-in.css'), join(src, 'sign-in.js')],
    outdir: join(out, 'assets'),
    bundle: true,
    minify: true,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'sign-in.html', 'favicon.svg'])
    copyFileSync(join(src, file), join(out, file === 'favicon.svg' ? 'assets/favicon.svg' : file));
  return gzipSync(readFileSync(join(out, 'assets/app.js'))).length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const gzipped = await buildDashboard();
  console.log(`dashboard: app.js ${(gzipped / 1024).toFixed(1)} KB gzipped`);
}
