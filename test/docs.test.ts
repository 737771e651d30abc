import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/cli/output.js';
import { ERROR_CODES } from '../src/core/errors.js';
import { MAINTENANCE_TUNING, WORKER_TUNING } from '../src/core/tuning.js';
import { demoJobs } from '../src/demo/jobs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The cells of every markdown table row, trimmed, without the header separators. */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(demoJobs, { deck: { worker: false } });
});
afterAll(async () => server.close());

describe('docs stay in step with the code', () => {
  it('errors.md lists every code of the registry with its status, and nothing else', () => {
    const rows = tableRows(read('docs/reference/errors.md'))
      .filter((cells) => /^`[A-Z_]+`$/.test(cells[0]!))
      .map((cells) => [cells[0]!.slice(1, -1), Number(cells[1])]);
    const registry = Object.entries(ERROR_CODES).map(([code, entry]) => [code, entry.status]);
    expect(rows.sort()).toEqual(registry.sort());
  });

  it('the OpenAPI Error schema names exactly the registry codes', async () => {
    const doc = (await server.request('GET', '/openapi.json')).body;
    const schema = doc.components.schemas.Error;
    expect(schema.properties.error.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('api.md documents every route of the OpenAPI document with its role', async () => {
    const doc = (await server.request('GET', '/openapi.json')).body;
    const documented = new Map(
      tableRows(read('docs/reference/api.md'))
        .filter((cells) => /^`(GET|POST|PATCH|DELETE) \//.test(cells[0]!))
        .map((cells) => [cells[0]!.slice(1, -1), cells[1]]),
    );
    const paths = doc.paths as Record<string, Record<string, { 'x-jobdeck-role'?: string }>>;
    for (const [path, operations] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const route = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`;
        expect(documented.get(route), `api.md row for ${route}`).toBe(operation['x-jobdeck-role']);
      }
    }
  });

  it('the README and cli.md list every exit code of the command line, and nothing else', () => {
    const codes = Object.values(EXIT_CODES).map(({ code }) => code);
    for (const path of ['README.md', 'docs/reference/cli.md']) {
      const documented = tableRows(read(path))
        .filter((cells) => /^\d+$/.test(cells[0]!))
        .map((cells) => Number(cells[0]));
      expect(documented, path).toEqual(codes);
    }
  });

  it('library.md gives the default and minimum of every worker and maintenance timing', () => {
    const rows = new Map(
      tableRows(read('docs/reference/library.md'))
        .filter((cells) => /^`\w+Ms`$/.test(cells[0]!))
        .map((cells) => [cells[0]!.slice(1, -1), cells]),
    );
    for (const [key, { default: fallback, min }] of Object.entries({
      ...WORKER_TUNING,
      ...MAINTENANCE_TUNING,
    })) {
      const [, , documentedDefault, documentedMin] = rows.get(key) ?? [];
      expect(documentedDefault, `${key} default`).toBe(String(fallback));
      // The heartbeat's minimum goes on: "10, and at most half of `leaseMs`".
      expect(documentedMin?.split(',')[0], `${key} minimum`).toBe(String(min));
    }
  });

  it("CONTRIBUTING.md's test template is the file that runs", () => {
    const block = /The template is `test\/template.test.ts`[^\n]*\n\n```ts\n([\s\S]*?)```/.exec(
      read('CONTRIBUTING.md'),
    );
    expect(block, 'template block in CONTRIBUTING.md').not.toBeNull();
    const file = read('test/template.test.ts').split('\n').slice(1).join('\n');
    expect(block![1]!.trim()).toBe(file.trim());
  });
});
