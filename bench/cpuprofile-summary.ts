/**
 * Summarise a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by file.
 *
 *   npx tsx bench/cpuprofile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [path, topArg = '25'] = process.argv.slice(2);
if (!path) throw new Error('usage: cpuprofile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg);
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) =>
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
);
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const shorten = (url: string) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, 'node_modules/')
    .replace(/.*\/(src|bench|test)\//, '$1/') || '(native)';
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const file = shorten(url);
  const fn = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  const pkg = file.startsWith('node_modules/') ? file.split('/').slice(0, 2).join('/') : file;
  byFile.set(pkg, (byFile.get(pkg) ?? 0) + us);
}
const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(
      `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`,
    );
};
console.log(`${path}: ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by function', byFunction);
print('self time by file / package', byFile);
