/**
 * ChatOps over real HTTP: the Telegram webhook (replies go to a local stand-in for the Bot API on
 * 127.0.0.1), the Slack slash command (answers in the response), and `POST /api/chatops` for API
 * tokens. Verification first (a wrong secret or signature: 401, nothing done), then the API's
 * roles and ownership for what a chat user may do.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChatopsConfig } from '../../src/chatops/config.js';
import { slackSignature } from '../../src/chatops/slack.js';
import { pollUntil } from '../helpers/poll.js';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';
import {
  Gates,
  closeAndCheckNoTokenLogged,
  createRun,
  expectErrorBody,
  gateJob,
  getRun,
  quickJob,
  waitForStatus,
} from './support.js';

const BOT_TOKEN = '123456:TEST-bot-token_0001';
const TELEGRAM_SECRET = 'telegram-secret-token-0001';
const SLACK_SECRET = 'slack-signing-secret-0001';
const ALICE_TG = 111;
const BOB_TG = 222;
const STRANGER_TG = 999;

const gates = new Gates();
const GATE = 'e2e.gate';
const QUICK = 'e2e.quick';

/** A stand-in for the Telegram Bot API: records each request and answers like Telegram. */
class BotApi {
  readonly requests: {
    path: string;
    body: { chat_id: number; text: string; [k: string]: unknown };
  }[] = [];
  private readonly server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      this.requests.push({ path: request.url ?? '', body: JSON.parse(body) });
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ ok: true, result: { message_id: this.requests.length } }));
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const bot = new BotApi();
let server: TestServer;
let updateId = 1000;

/** Send a Telegram update with `text` from user `from` (in a chat of the same id). */
async function telegram(
  target: TestServer,
  text: string,
  from: number,
  options: { secret?: string | null; updateId?: number } = {},
) {
  const secret = options.secret === undefined ? TELEGRAM_SECRET : options.secret;
  return target.request('POST', '/api/chatops/telegram', {
    headers: secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret },
    body: {
      update_id: options.updateId ?? ++updateId,
      message: {
        message_id: updateId,
        date: Math.floor(Date.now() / 1000),
        from: { id: from, is_bot: false, first_name: 'Test' },
        chat: { id: from, type: 'private' },
        text,
      },
    },
  });
}

/** Send a Telegram command and return the one reply the bot sent for it. */
async function telegramReply(text: string, from: number): Promise<string> {
  const before = bot.requests.length;
  const response = await telegram(server, text, from);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(response.body).toEqual({ ok: true });
  // The webhook answers once the reply is sent.
  expect(bot.requests.length).toBe(before + 1);
  const sent = bot.requests[before]!;
  expect(sent.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
  expect(sent.body).toMatchObject({ chat_id: from, reply_parameters: { message_id: updateId } });
  return sent.body.text;
}

/** Send a Slack slash command, signed with `secret` at `at` (seconds) unless told otherwise. */
function slack(
  text: string,
  userId: string,
  options: { secret?: string; at?: number; signature?: string; contentType?: string } = {},
) {
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0001',
    channel_id: 'C0001',
    user_id: userId,
    user_name: userId.toLowerCase(),
    command: '/jobs',
    text,
    response_url: 'https://hooks.slack.invalid/commands/1',
  }).toString();
  const at = String(options.at ?? Math.floor(Date.now() / 1000));
  return server.request('POST', '/api/chatops/slack', {
    headers: {
      'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': at,
      'x-slack-signature':
        options.signature ?? slackSignature(options.secret ?? SLACK_SECRET, at, body),
    },
    body,
  });
}

/** A held run of the gate job, started over the API with `token`, running. */
async function heldRun(token: string) {
  const key = gates.key();
  const run = await createRun(server, GATE, { input: { key } }, token);
  await gates.get(key).entered.promise;
  return run as { id: string };
}

const runLink = (id: string) => `${server.deck.publicUrl}/dashboard/runs/${id}`;

beforeAll(async () => {
  await bot.start();
  server = await startTestServer([gateJob(gates, { name: GATE }), quickJob(QUICK)], {
    chatops: parseChatopsConfig({
      users: {
        [`telegram:${ALICE_TG}`]: 'alice',
        [`telegram:${BOB_TG}`]: 'bob',
        'slack:UALICE': 'alice',
        'slack:UBOB': 'bob',
      },
      telegram: { botToken: BOT_TOKEN, secretToken: TELEGRAM_SECRET, apiBase: bot.url },
      slack: { signingSecret: SLACK_SECRET },
    }),
  });
});
afterAll(async () => {
  gates.releaseAll();
  await closeAndCheckNoTokenLogged(server);
  for (const secret of [BOT_TOKEN, TELEGRAM_SECRET, SLACK_SECRET])
    expect(server.output().includes(secret), `${secret} appears in the server log`).toBe(false);
  await bot.close();
});

describe('Telegram webhook', () => {
  it("a mapped operator's `/jobs cancel <id> force` on their own run cancels it, and the reply says so", async () => {
    const run = await heldRun(TEST_TOKENS.alice);
    const reply = await telegramReply(`/jobs cancel ${run.id} force done here`, ALICE_TG);
    expect(reply).toBe(
      `Cancelled e2e.gate ${run.id} by force: it was stopped at once.\n${runLink(run.id)}`,
    );
    expect(await getRun(server, run.id)).toMatchObject({
      status: 'cancelled',
      cancel: { mode: 'force', reason: 'done here', requestedBy: 'alice' },
    });
  });

  it("on another's run the reply is the API's 403 reason, and the run keeps running", async () => {
    const run = await heldRun(TEST_TOKENS.bob);
    const reply = await telegramReply(`/jobs cancel ${run.id} force`, ALICE_TG);
    const api = await server.request('POST', `/api/runs/${run.id}/cancel`, {
      token: TEST_TOKENS.alice,
      body: { mode: 'force' },
    });
    expect(api.status).toBe(403);
    expect(reply).toBe(api.body.message);
    expect(reply).toBe(`Only bob or an admin may cancel run ${run.id}.`);
    expect((await getRun(server, run.id)).status).toBe('running');
  });

  it('a wrong or missing secret token answers 401 and nothing happens', async () => {
    const run = await heldRun(TEST_TOKENS.alice);
    const before = bot.requests.length;
    for (const secret of ['wrong-secret-token-000001', TELEGRAM_SECRET.slice(0, -1), '', null]) {
      const response = await telegram(server, `/jobs cancel ${run.id} force`, ALICE_TG, {
        secret,
      });
      expect(response.status).toBe(401);
      expectErrorBody(response.body, 'UNAUTHENTICATED');
    }
    // Refused before the body is read: a body that is not an update is refused the same way.
    const junk = await server.request('POST', '/api/chatops/telegram', {
      headers: { 'x-telegram-bot-api-secret-token': 'wrong-secret-token-000001' },
      body: 'not json',
    });
    expect(junk.status).toBe(401);
    expect(bot.requests.length).toBe(before);
    expect((await getRun(server, run.id)).status).toBe('running');
  });

  it('an unmapped user can list but not cancel', async () => {
    const run = await heldRun(TEST_TOKENS.alice);
    const list = await telegramReply('/jobs active', STRANGER_TG);
    expect(list).toMatch(/^Active runs/);
    expect(list).toContain(runLink(run.id));
    expect(await telegramReply(`/jobs ${run.id}`, STRANGER_TG)).toContain(`id ${run.id}`);
    expect(await telegramReply(`/jobs cancel ${run.id} force`, STRANGER_TG)).toBe(
      `This needs the operator role; telegram:${STRANGER_TG} is viewer.`,
    );
    expect(await telegramReply(`/jobs run ${QUICK}`, STRANGER_TG)).toBe(
      `This needs the operator role; telegram:${STRANGER_TG} is viewer.`,
    );
    expect((await getRun(server, run.id)).status).toBe('running');
  });

  it('a mapped operator starts a run; it is theirs', async () => {
    const reply = await telegramReply(`/jobs run ${QUICK} {"n": 7}`, BOB_TG);
    const id = /^Started e2e\.quick: (\S+) /.exec(reply)?.[1];
    expect(id, reply).toBeDefined();
    expect(await waitForStatus(server, id!, 'completed')).toMatchObject({
      createdBy: 'bob',
      trigger: 'manual',
      result: { n: 7 },
    });
  });

  it('messages that are not /jobs commands, and updates sent again, get no reply', async () => {
    const before = bot.requests.length;
    for (const text of ['hello', '/start', '/jobsactive']) {
      const response = await telegram(server, text, ALICE_TG);
      expect(response.status).toBe(200);
    }
    const noMessage = await server.request('POST', '/api/chatops/telegram', {
      headers: { 'x-telegram-bot-api-secret-token': TELEGRAM_SECRET },
      body: { update_id: ++updateId, edited_message: { text: '/jobs' } },
    });
    expect(noMessage.status).toBe(200);
    expect(bot.requests.length).toBe(before);

    // Telegram sends an update again when it did not see the answer: it is done once.
    const id = ++updateId;
    await telegram(server, `/jobs run ${QUICK}`, BOB_TG, { updateId: id });
    await telegram(server, `/jobs run ${QUICK}`, BOB_TG, { updateId: id });
    expect(bot.requests.length).toBe(before + 1);
  });

  it('a verified update that is not one is a 400 naming the field', async () => {
    const response = await server.request('POST', '/api/chatops/telegram', {
      headers: { 'x-telegram-bot-api-secret-token': TELEGRAM_SECRET },
      body: { message: { text: '/jobs' } },
    });
    expect(response.status).toBe(400);
    expectErrorBody(response.body, 'INVALID_INPUT');
  });
});

describe('Slack slash command', () => {
  it('a bad signature or a timestamp 6 minutes old answers 401, and nothing happens', async () => {
    const runs = async () =>
      (
        await server.request('GET', `/api/runs?job=${QUICK}&total=true`, {
          token: TEST_TOKENS.viewer,
        })
      ).body.total as number;
    const before = await runs();
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await slack(`run ${QUICK}`, 'UALICE', { secret: 'not-the-signing-secret' }),
      await slack(`run ${QUICK}`, 'UALICE', { signature: 'v0=' + '0'.repeat(64) }),
      await slack(`run ${QUICK}`, 'UALICE', { signature: '' }),
      await slack(`run ${QUICK}`, 'UALICE', { at: now - 6 * 60 }),
      await slack(`run ${QUICK}`, 'UALICE', { at: now + 6 * 60 }),
      // Whatever the body's type, the signature decides.
      await slack(`run ${QUICK}`, 'UALICE', {
        contentType: 'application/json',
        secret: 'not-the-signing-secret',
      }),
    ];
    for (const response of refused) {
      expect(response.status, JSON.stringify(response.body)).toBe(401);
      expectErrorBody(response.body, 'UNAUTHENTICATED');
    }
    expect(refused[3]!.body.message).toBe(
      'The Slack request was signed more than 5 minutes from now.',
    );
    expect(await runs()).toBe(before);
  });

  it('a good signature gets the answer in the response; reads are shown to the asker only', async () => {
    const run = await heldRun(TEST_TOKENS.bob);
    const response = await slack('active', 'UALICE');
    expect(response.status).toBe(200);
    expect(response.body.response_type).toBe('ephemeral');
    expect(response.body.text).toMatch(/^Active runs/);
    expect(response.body.text).toContain(runLink(run.id));
    // A signature within the 5 minutes is fine.
    const late = await slack('help', 'UALICE', { at: Math.floor(Date.now() / 1000) - 4 * 60 });
    expect(late.status).toBe(200);
    expect(late.body.text).toContain('You are alice (operator).');
  });

  it('a cancel follows ownership; done, it is shown to the channel', async () => {
    const run = await heldRun(TEST_TOKENS.bob);
    const refused = await slack(`cancel ${run.id} force`, 'UALICE');
    expect(refused.body).toEqual({
      response_type: 'ephemeral',
      text: `Only bob or an admin may cancel run ${run.id}.`,
    });
    const done = await slack(`cancel ${run.id} force`, 'UBOB');
    expect(done.body).toEqual({
      response_type: 'in_channel',
      text: `Cancelled e2e.gate ${run.id} by force: it was stopped at once.\n${runLink(run.id)}`,
    });
    expect((await getRun(server, run.id)).status).toBe('cancelled');
    const stranger = await slack(`cancel ${run.id}`, 'USTRANGER');
    expect(stranger.body.text).toBe('This needs the operator role; slack:USTRANGER is viewer.');
  });

  it("escapes Slack's markup characters", async () => {
    const response = await slack('a<b>&c', 'UALICE');
    expect(response.body.text).toBe(
      'No job, category or run is named "a&lt;b&gt;&amp;c". Send /jobs help for the commands.',
    );
  });
});

describe('POST /api/chatops', () => {
  it("answers as the token's principal, with the text a chat gets", async () => {
    await heldRun(TEST_TOKENS.alice);
    const api = await server.request('POST', '/api/chatops', {
      token: TEST_TOKENS.alice,
      body: { text: '/jobs active' },
    });
    expect(api.status).toBe(200);
    expect(api.body).toEqual({ text: await telegramReply('/jobs active', ALICE_TG) });
    const help = await server.request('POST', '/api/chatops', {
      token: TEST_TOKENS.viewer,
      body: { text: '/jobs help' },
    });
    expect(help.body.text).toContain('You are viewer (viewer).');
  });

  it('needs a token and a text', async () => {
    expect((await server.request('POST', '/api/chatops', { body: { text: '/jobs' } })).status).toBe(
      401,
    );
    for (const body of [{}, { text: '' }, { text: 'x'.repeat(4001) }, { text: '/jobs', more: 1 }]) {
      const response = await server.request('POST', '/api/chatops', {
        token: TEST_TOKENS.viewer,
        body,
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expectErrorBody(response.body, 'INVALID_INPUT');
    }
  });
});

describe('chat users that may do nothing, and platforms not set up', () => {
  let closed: TestServer;
  beforeAll(async () => {
    closed = await startTestServer([quickJob(QUICK)], {
      deck: { worker: false },
      chatops: parseChatopsConfig({
        users: { [`telegram:${ALICE_TG}`]: 'alice' },
        unmapped: 'none',
        telegram: { botToken: BOT_TOKEN, secretToken: TELEGRAM_SECRET, apiBase: bot.url },
      }),
    });
  });
  afterAll(async () => closed.close());

  it('an unmapped user is told they may not use the commands', async () => {
    const before = bot.requests.length;
    expect((await telegram(closed, '/jobs active', STRANGER_TG)).status).toBe(200);
    await pollUntil(() => bot.requests.length > before, { what: 'the reply' });
    expect(bot.requests[before]!.body.text).toBe(
      `Not allowed: telegram:${STRANGER_TG} is not mapped to a Jobdeck principal. An admin can add it to chatops.users.`,
    );
    expect((await telegram(closed, '/jobs active', ALICE_TG)).status).toBe(200);
    expect(bot.requests[before + 1]!.body.text).toBe(
      `No run is active.\n${closed.deck.publicUrl}/dashboard/runs`,
    );
  });

  it('Slack without chatops.slack answers 404', async () => {
    const response = await closed.request('POST', '/api/chatops/slack', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'text=active',
    });
    expect(response.status).toBe(404);
    expectErrorBody(response.body, 'NOT_FOUND');
  });

  it('without a chatops section, Telegram and Slack answer 404 and the API route still works', async () => {
    const bare = await startTestServer([], { deck: { worker: false } });
    try {
      expect((await telegram(bare, '/jobs', ALICE_TG)).status).toBe(404);
      const slackResponse = await bare.request('POST', '/api/chatops/slack', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'text=active',
      });
      expect(slackResponse.status).toBe(404);
      const api = await bare.request('POST', '/api/chatops', {
        token: TEST_TOKENS.viewer,
        body: { text: '/jobs active' },
      });
      expect(api.body.text).toBe(`No run is active.\n${bare.deck.publicUrl}/dashboard/runs`);
    } finally {
      await bare.close();
    }
  });
});
