import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chatText, redact, webhookSignature } from './channels.js';
import { AlertsConfigError, parseAlertsConfig } from './config.js';
import { globMatcher } from './glob.js';
import { renderTemplate, templateProblems } from './template.js';

const GOOD = `channels:
  ops:   { type: webhook, url: "https://ops.example/hook", secret: "\${OPS_HOOK_SECRET}" }
  team:  { type: slack, url: "\${SLACK_WEBHOOK_URL}" }
  phone: { type: telegram, botToken: "\${TELEGRAM_BOT_TOKEN}", chatId: -1001234 }
rules:
  - name: failures
    on: [run.failed, run.partial]
    job: "billing.*"
    severity: critical
    cooldown: 10m
    channels: [ops, team]
    message: "{{job}} {{status}}: {{error.message}} ({{link}})"
  - name: backlog
    on: [queue.backlog]
    backlogAfter: 5m
    channels: [phone]
chatops:
  users: { "telegram:12345": alice }
`;
const ENV = {
  OPS_HOOK_SECRET: 's3cret',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.example/services/T/B/X',
  TELEGRAM_BOT_TOKEN: '1:abc',
};

/** The issues of a file that must not parse. */
function issues(text: string, env: Record<string, string> = ENV) {
  try {
    parseAlertsConfig(text, 'alerts.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(AlertsConfigError);
    return (err as AlertsConfigError).issues;
  }
  throw new Error('the file parsed');
}

describe('the alerts file', () => {
  it('parses channels, rules with defaults, env substitution and the chatops section with its defaults', () => {
    const config = parseAlertsConfig(GOOD, 'alerts.yaml', ENV);
    expect(config.channels).toEqual({
      ops: { type: 'webhook', url: 'https://ops.example/hook', secret: 's3cret' },
      team: { type: 'slack', url: 'https://hooks.slack.example/services/T/B/X' },
      phone: {
        type: 'telegram',
        botToken: '1:abc',
        chatId: '-1001234',
        apiBase: 'https://api.telegram.org',
      },
    });
    expect(config.rules[0]).toMatchObject({
      name: 'failures',
      on: ['run.failed', 'run.partial'],
      job: 'billing.*',
      category: null,
      severity: 'critical',
      cooldownMs: 600_000,
      channels: ['ops', 'team'],
    });
    expect(config.rules[1]).toMatchObject({
      severity: 'warning',
      cooldownMs: 300_000,
      backlogAfterMs: 300_000,
      message: null,
    });
    expect(config.chatops).toEqual({ users: { 'telegram:12345': 'alice' }, unmapped: 'read' });
  });

  it('names the line, column and field of each problem', () => {
    const text = `channels:
  ops: { type: webhook, url: "ftp://x", secret: "x" }
  team: { type: pager, url: "https://x" }
rules:
  - name: failures
    on: [run.failed, run.exploded]
    cooldown: soon
    channels: [ops, tema]
    message: "{{jobb}}"
    colour: red
`;
    const found = issues(text).map((i) => `${i.line}:${i.field}`);
    expect(found).toEqual(
      expect.arrayContaining([
        '2:channels.ops.url',
        '3:channels.team.type',
        '6:rules[0].on[1]',
        '7:rules[0].cooldown',
        '10:rules[0].colour',
      ]),
    );
    // What refers to another part of the file is checked once each part is valid on its own.
    const crossed = text
      .replace('ftp://x', 'https://x')
      .replace('pager', 'slack')
      .replace(', run.exploded', '')
      .replace('soon', '10m')
      .replace('    colour: red\n', '');
    expect(issues(crossed).map((i) => `${i.line}:${i.field}`)).toEqual([
      '8:rules[0].channels[1]',
      '9:rules[0].message',
    ]);
    const message = (() => {
      try {
        parseAlertsConfig(crossed, 'alerts.yaml', ENV);
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toContain('alerts.yaml:8:');
    expect(message).toContain('rules[0].channels[1]: unknown channel "tema" (channels: ops, team)');
  });

  it('a missing field points at the object that lacks it; a missing variable at its field', () => {
    expect(
      issues(`rules:\n  - name: x\n    on: [run.failed]\n`).map((i) => [i.line, i.field]),
    ).toEqual([[2, 'rules[0].channels']]);
    const missing = issues(
      `channels:\n  ops: { type: webhook, url: "https://x", secret: "\${NOPE}" }\n`,
      {},
    );
    expect(missing).toEqual([
      {
        line: 2,
        column: 51,
        field: 'channels.ops.secret',
        message: 'environment variable NOPE is not set',
      },
    ]);
  });

  it('YAML syntax errors come with their line', () => {
    const [issue] = issues(`channels:\n  ops: { type: webhook\nrules: [\n`);
    expect(issue!.line).toBeGreaterThan(1);
    expect(issues('a: 1\na: 2\n')[0]!.message).toMatch(/unique/i);
  });

  it('queue.backlog needs backlogAfter; afterAttempt needs run.retrying', () => {
    const found = issues(`channels: { ops: { type: slack, url: "https://x" } }
rules:
  - { name: a, on: [queue.backlog], channels: [ops] }
  - { name: b, on: [run.failed], afterAttempt: 2, channels: [ops] }
  - { name: a, on: [run.retrying], afterAttempt: 2, channels: [ops] }
  - { name: c, on: [run.failed], backlogAfter: 5m, channels: [ops, ops] }
`).map((i) => `${i.line}:${i.field}`);
    expect(found).toEqual([
      '3:rules[0].backlogAfter',
      '4:rules[1].afterAttempt',
      '5:rules[2].name',
      '6:rules[3].backlogAfter',
      '6:rules[3].channels[1]',
    ]);
  });

  it('a bare number of a duration asks for its unit (0 needs none); a missing field says it is required', () => {
    const [bare, ...others] = issues(`channels: { ops: { type: slack, url: "https://x" } }
rules:
  - { name: a, on: [run.failed], cooldown: 10, channels: [ops] }
  - { name: b, on: [run.failed], cooldown: "5", channels: [ops] }
  - { name: c, on: [run.failed], cooldown: 0, channels: [ops] }
`);
    expect(bare!.message).toBe('10 has no unit: write e.g. 10s, 10m or 10ms');
    expect(others.map((i) => i.field)).toEqual(['rules[1].cooldown']);
    expect(
      issues(`channels: { ops: { type: slack, url: "https://x" } }
rules:
  - { name: b, on: [run.failed], cooldown: "5", channels: [ops] }
`).map((i) => `${i.line}:${i.field}`),
    ).toEqual(['3:rules[0].cooldown']);
    const [missing] = issues(`channels: { tg: { type: telegram, botToken: "1:a" } }
`);
    expect([missing!.field, missing!.message]).toEqual(['channels.tg.chatId', 'is required']);
  });
});

describe('templates, globs and channel text', () => {
  it('renders dotted paths; missing values are empty; unknown names are refused up front', () => {
    expect(
      renderTemplate('{{job}} {{ status }}: {{error.message}}{{run.missing}} ({{link}})', {
        job: 'billing.invoice',
        status: 'failed',
        error: { code: 'X', message: 'boom' },
        run: {},
        link: 'https://j/x',
      }),
    ).toBe('billing.invoice failed: boom (https://j/x)');
    expect(templateProblems('{{job}} {{error.code}}')).toEqual([]);
    expect(templateProblems('{{nope}} {{a b}}')).toHaveLength(2);
  });

  it('globs: * is any text, ? one character, the rest literal', () => {
    expect(globMatcher('billing.*')('billing.invoice.send')).toBe(true);
    expect(globMatcher('billing.*')('billingXinvoice')).toBe(false);
    expect(globMatcher('job-?')('job-1')).toBe(true);
    expect(globMatcher('job-?')('job-12')).toBe(false);
  });

  it('signs timestamp.body with HMAC-SHA256; chat text carries severity, rule and link; secrets redacted', () => {
    expect(webhookSignature('key', '1700000000', '{"a":1}')).toBe(
      `sha256=${createHmac('sha256', 'key').update('1700000000.{"a":1}').digest('hex')}`,
    );
    expect(webhookSignature('key', '1', 'x')).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(webhookSignature('key', '1', 'x')).not.toBe(webhookSignature('key', '2', 'x'));
    const text = chatText({
      id: '1',
      rule: 'failures',
      severity: 'critical',
      event: 'run.failed',
      message: 'billing failed',
      payload: null,
      link: 'https://j/r/1',
    });
    expect(text).toContain('[critical] failures: billing failed');
    expect(text).toContain('https://j/r/1');
    expect(redact('GET /bot1:abc/sendMessage failed', ['1:abc'])).toBe(
      'GET /bot[redacted]/sendMessage failed',
    );
  });
});

describe('the example alerts file', () => {
  const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

  it('is valid, and is the file the guide shows', () => {
    const text = read('examples/alerts.yaml');
    const config = parseAlertsConfig(text, 'examples/alerts.yaml', {
      OPS_HOOK_SECRET: 'x',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.example/services/T/B/X',
      TELEGRAM_BOT_TOKEN: '1:x',
    });
    expect(config.rules.map((r) => r.name)).toEqual(['failures', 'stuck', 'flaky', 'backlog']);
    const guide = read('docs/guides/alerts-and-chatops.md');
    const block = /```yaml\n([\s\S]*?)```/.exec(guide);
    expect(block?.[1]).toBe(text);
  });
});

describe('the webhook receiver example', () => {
  it('verifies what a webhook channel signs, is the code the guide shows, and refuses a stale or forged one', async () => {
    const { verified } = await import('../../examples/verify-webhook.js');
    const now = String(Math.floor(Date.now() / 1000));
    const body = '{"id":"1"}';
    expect(verified('s', now, body, webhookSignature('s', now, body))).toBe(true);
    expect(verified('s', now, body, webhookSignature('t', now, body))).toBe(false);
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    expect(verified('s', old, body, webhookSignature('s', old, body))).toBe(false);
    const guide = readFileSync(
      new URL('../../docs/guides/alerts-and-chatops.md', import.meta.url),
      'utf8',
    );
    const file = readFileSync(new URL('../../examples/verify-webhook.ts', import.meta.url), 'utf8');
    expect(/```ts\n([\s\S]*?)```/.exec(guide)?.[1]).toBe(file);
  });
});
