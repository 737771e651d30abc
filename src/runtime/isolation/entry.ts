import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where an isolate's entry script is: the compiled `.js` beside this file, or — when Jobdeck runs
 * from its TypeScript sources (tests, development) — the `.ts` file loaded through tsx.
 */
export function isolateEntry(name: 'thread-entry' | 'process-entry'): {
  url: URL;
  execArgv: string[];
} {
  const js = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js, execArgv: [] };
  // tsx as Jobdeck resolves it, not as the child's working folder would.
  return {
    url: new URL(`./${name}.ts`, import.meta.url),
    execArgv: ['--import', import.meta.resolve('tsx')],
  };
}

/** The parent's Node options, without the inspector (a second isolate cannot share its port). */
export function inheritedExecArgv(extra: string[]): string[] {
  const own = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  return [
    ...own,
    ...extra.filter((arg, i) => !(arg === '--import' && own.includes(extra[i + 1]!))),
  ];
}
