/**
 * `jobdeck chat` from the built command line, against `jobdeck serve --demo` as a child process
 * whose alerts file (JOBDECK_ALERTS) maps a Telegram user to the CLI token's principal: both get
 * the same text. Telegram's Bot API is a local receiver on 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Children,
  cleanEnv,
  requireBuild,
  START_TIMEOUT,
  type CliProcess,
} from './helpers/cli-process.js';
import { pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/temp.js';

const OPS_TOKEN = 'chat-operator-token-3b9f0d2e';
const TOKENS_ENV = `ops:operator:${OPS_TOKEN},root:admin:chat-admin-token-7c1e4a90`;
const BOT_TOKEN = '4242:chat-cli-bot-token';
const SECRET = 'chat-cli-secret-token-0001';
const PUBLIC_URL = 'https://jobs.example.com';
const OPS_TG = 777;

const serverChildren = new Children();
const children = new Children();
const temp = tempDir('jobdeck-chat-cli-');
const sent: { path: string; body: { chat_id: number; text: string } }[] = [];
const botApi = http.createServer((request, response) => {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    sent.push({ path: request.url ?? '', body: JSON.parse(body) });
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ ok: true, result: {} }));
  });
});
let server: CliProcess;
let url: string;

/** An alerts file with this `chatops:` section (YAML lines, indented under it). */
function alertsFile(name: string, chatops: string[]): string {
  const path = join(temp.dir, name);
  writeFileSync(path, ['chatops:', ...chatops.map((line) => `  ${line}`), ''].join('\n'));
  return path;
}

function jobdeck(args: string[]) {
  return children.run(args, { env: cleanEnv({ JOBDECK_URL: url, JOBDECK_TOKEN: OPS_TOKEN }) });
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${OPS_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    body: (await response.json()) as { run: { id: string; status: string } },
  };
}

let updateId = 1;
/** What the bot replied to a Telegram command from the user mapped to `ops`. */
async function telegramReply(text: string): Promise<string> {
  const before = sent.length;
  const id = ++updateId;
  const response = await fetch(`${url}/api/chatops/telegram`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET },
    body: JSON.stringify({
      update_id: id,
      message: { message_id: id, from: { id: OPS_TG }, chat: { id: -100 }, text },
    }),
  });
  expect(response.status).toBe(200);
  await pollUntil(() => sent.length > before, { what: 'the bot reply' });
  expect(sent[before]!.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
  expect(sent[before]!.body.chat_id).toBe(-100);
  return sent[before]!.body.text;
}

beforeAll(async () => {
  requireBuild();
  await new Promise<void>((resolve) => botApi.listen(0, '127.0.0.1', resolve));
  const apiBase = `http://127.0.0.1:${(botApi.address() as AddressInfo).port}`;
  const alerts = alertsFile('alerts.yaml', [
    'users:',
    `  "telegram:${OPS_TG}": ops`,
    'telegram:',
    '  botToken: "${TG_BOT_TOKEN}"',
    '  secretToken: "${TG_SECRET}"',
    `  apiBase: "${apiBase}"`,
  ]);
  server = serverChildren.start(
    ['serve', '--demo', '--db', join(temp.dir, 'jobdeck.db'), '--port', '0'],
    {
      env: cleanEnv({
        JOBDECK_TOKENS: TOKENS_ENV,
        JOBDECK_ALERTS: alerts,
        JOBDECK_PUBLIC_URL: PUBLIC_URL,
        TG_BOT_TOKEN: BOT_TOKEN,
        TG_SECRET: SECRET,
        JOBDECK_LOG_LEVEL: 'trace',
      }),
    },
  );
  const [, address] = await server.waitForStdout(
    /Jobdeck is serving \d+ jobs? on (http:\/\/\S+)\n/,
  );
  url = address!;
}, START_TIMEOUT + 5000);

afterEach(() => children.killAll());
afterAll(async () => {
  children.killAll();
  serverChildren.killAll();
  await new Promise<void>((resolve) => botApi.close(() => resolve()));
  temp.cleanup();
});

describe('jobdeck chat', () => {
  it('`jobdeck chat "/jobs failed"` prints the text the chat reply has, for the same principal', async () => {
    const created = await api('POST', '/api/jobs/demo.nodes/runs', {
      input: { nodes: ['a'], durationMs: 1, failNodes: ['a'] },
    });
    expect(created.status).toBe(202);
    const id = created.body.run.id;
    await pollUntil(
      async () => (await api('GET', `/api/runs/${id}`)).body.run.status === 'failed',
      {
        timeoutMs: START_TIMEOUT,
        what: `run ${id} to fail`,
      },
    );

    const cli = await jobdeck(['chat', '/jobs failed']);
    expect(cli.exit, cli.stderr).toEqual({ code: 0, signal: null });
    const reply = await telegramReply('/jobs failed');
    expect(cli.stdout).toBe(`${reply}\n`);
    expect(reply).toMatch(/^Failed runs \(1\):\n• demo\.nodes failed .* · by ops · ITEMS_FAILED: /);
    expect(reply).toContain(`\n  ${PUBLIC_URL}/dashboard/runs/${id}`);

    // The /jobs may be left out, and the words need no quotes.
    const short = await jobdeck(['chat', 'failed']);
    expect(short.stdout).toBe(cli.stdout);
    const json = await jobdeck(['chat', '/jobs', 'help', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ text: await telegramReply('/jobs help') });
  });

  it('refusals are answers too: printed, exit code 0', async () => {
    const cli = await jobdeck(['chat', '/jobs cancel ffffffff']);
    expect(cli.exit).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toBe('No run has an id starting with ffffffff.\n');
  });

  it('the server log never holds the bot token or the secret token', () => {
    expect(server.output()).not.toContain(BOT_TOKEN);
    expect(server.output()).not.toContain(SECRET);
  });
});

describe('a chatops section that cannot be used stops `jobdeck serve`', () => {
  const serve = (alerts: string, env: Record<string, string> = {}) =>
    children.run(['serve', '--db', join(temp.dir, 'refused.db'), '--port', '0', '--no-worker'], {
      env: cleanEnv({ JOBDECK_TOKENS: TOKENS_ENV, JOBDECK_ALERTS: alerts, ...env }),
      timeoutMs: START_TIMEOUT,
    });

  it('a user mapped to a principal without a token', async () => {
    const result = await serve(alertsFile('nobody.yaml', ['users:', '  "slack:U1": nobody']));
    expect(result.exit.code).toBe(1);
    expect(result.stderr).toContain(
      'jobdeck: chatops.users["slack:U1"]: nobody has no API token, so no role',
    );
  });

  it('a missing environment variable, and a bad field: serve and alerts check name the line and field', async () => {
    const path = alertsFile('env.yaml', ['slack:', '  signingSecret: "${NOT_SET_ANYWHERE}"']);
    const missing = await serve(path);
    expect(missing.exit.code).toBe(1);
    const where = `${path}:3:20: chatops.slack.signingSecret: environment variable NOT_SET_ANYWHERE is not set`;
    expect(missing.stderr).toContain(where);
    const field = alertsFile('field.yaml', ['unmapped: everyone']);
    const bad = await serve(field);
    expect(bad.exit.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`${field}:2:\\d+: chatops\\.unmapped: `));
    // The check without starting says the same.
    for (const [file, expected] of [
      [path, where],
      [field, `${field}:2:`],
    ] as const) {
      const checked = await jobdeck(['alerts', 'check', file]);
      expect(checked.exit.code).toBe(1);
      expect(checked.stderr).toContain(expected);
    }
  });
});
