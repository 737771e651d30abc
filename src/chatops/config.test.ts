import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenSet } from '../api/auth.js';
import { tempDir } from '../../test/helpers/temp.js';
import { TELEGRAM_API_BASE } from '../core/config-values.js';
import { parseChatopsConfig } from './config.js';
import { loadAlertsFile } from '../alerts/config.js';
import { ChatUsers } from './users.js';

const TELEGRAM = { botToken: '123456:ABC-def_1', secretToken: 'a-secret-token-of-24-chars' };
const temp = tempDir('jobdeck-chatops-');
afterAll(() => temp.cleanup());

describe('the chatops section', () => {
  it('has defaults: no users, unmapped users read, no platform', () => {
    expect(parseChatopsConfig(undefined)).toEqual({ users: {}, unmapped: 'read' });
    expect(parseChatopsConfig({ users: null })).toEqual({ users: {}, unmapped: 'read' });
    expect(parseChatopsConfig({ telegram: TELEGRAM }).telegram).toEqual({
      ...TELEGRAM,
      apiBase: TELEGRAM_API_BASE,
    });
  });

  it('names every field that is wrong', () => {
    const parse = () =>
      parseChatopsConfig(
        {
          users: { 'telegram:1': 'alice', 'irc:bob': 'bob' },
          unmapped: 'write',
          telegram: { ...TELEGRAM, secretToken: 'short', apiBase: 'ftp://x' },
          slack: { signingSecret: '', extra: 1 },
        },
        'alerts.yaml',
      );
    expect(parse).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const message = (() => {
      try {
        parse();
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/^alerts\.yaml: /);
    for (const field of [
      'chatops.users["irc:bob"]',
      'chatops.unmapped',
      'chatops.telegram.secretToken',
      'chatops.telegram.apiBase',
      'chatops.slack.signingSecret',
      'chatops.slack.extra: is not a known field',
    ])
      expect(message).toContain(field);
    expect(message).not.toContain('chatops.users["telegram:1"]');
  });
});

describe('chat users', () => {
  const tokens = TokenSet.parse('alice:operator:alice-secret-1,root:admin:root-secret-1');
  const config = parseChatopsConfig({ users: { 'telegram:1': 'alice', 'slack:U2': 'root' } });

  it('a mapped user is the principal of that name, with its role', () => {
    const users = new ChatUsers(config, (name) => tokens.principalNamed(name));
    expect(users.principalOf('telegram', 1)).toEqual({ name: 'alice', role: 'operator' });
    expect(users.principalOf('slack', 'U2')).toEqual({ name: 'root', role: 'admin' });
    // The same id on another platform is another user.
    expect(users.principalOf('slack', '1')).toEqual({ name: 'slack:1', role: 'viewer' });
  });

  it('others read, or do nothing', () => {
    const none = new ChatUsers(parseChatopsConfig({ ...config, unmapped: 'none' }), (name) =>
      tokens.principalNamed(name),
    );
    expect(none.principalOf('telegram', 2)).toBeNull();
    expect(none.principalOf('telegram', 1)).toEqual({ name: 'alice', role: 'operator' });
  });

  it('a mapped name without a token stops the start, naming the entry', () => {
    const make = () =>
      new ChatUsers(parseChatopsConfig({ users: { 'telegram:3': 'carol' } }), (name) =>
        tokens.principalNamed(name),
      );
    expect(make).toThrow('chatops.users["telegram:3"]: carol has no API token, so no role');
  });
});

describe('reading the section from the alerts file', () => {
  const file = (name: string, text: string) => {
    const path = join(temp.dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('the alerts file gives the chatops key, with ${ENV_VAR} replaced', () => {
    const path = file(
      'alerts.yaml',
      [
        'channels:',
        '  ops: { type: webhook, url: "https://ops.example/hook", secret: "${NOT_READ_HERE}" }',
        'chatops:',
        '  users:',
        '    "telegram:12345": alice',
        '  telegram:',
        '    botToken: "${BOT_TOKEN}"',
        '    secretToken: "${BOT_SECRET}"',
        '  slack: { signingSecret: "${SLACK_SECRET}" }',
      ].join('\n'),
    );
    const env = {
      NOT_READ_HERE: 'hook-secret',
      BOT_TOKEN: '42:bot-token',
      BOT_SECRET: 'secret-token-from-env-1',
      SLACK_SECRET: 'slack-secret',
    };
    expect(loadAlertsFile(path, env).chatops).toEqual({
      users: { 'telegram:12345': 'alice' },
      unmapped: 'read',
      telegram: {
        botToken: '42:bot-token',
        secretToken: 'secret-token-from-env-1',
        apiBase: TELEGRAM_API_BASE,
      },
      slack: { signingSecret: 'slack-secret' },
    });
    expect(loadAlertsFile(file('empty.yaml', 'rules: []\n'), {}).chatops).toEqual({
      users: {},
      unmapped: 'read',
    });
  });

  it("the guide's example is examples/chatops.yaml, and it loads", () => {
    const example = readFileSync(new URL('../../examples/chatops.yaml', import.meta.url), 'utf8');
    const guide = readFileSync(new URL('../../docs/guides/chatops.md', import.meta.url), 'utf8');
    expect(/```yaml\n([\s\S]*?)```/.exec(guide)?.[1]).toBe(example);
    const path = new URL('../../examples/chatops.yaml', import.meta.url).pathname;
    const { chatops: config } = loadAlertsFile(path, {
      TELEGRAM_BOT_TOKEN: '123456:ABC-DEF1234ghIkl',
      TELEGRAM_SECRET_TOKEN: 'a-secret-token-of-32-characters-',
      SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5',
    });
    expect(config.users).toEqual({ 'telegram:12345': 'alice', 'slack:U024BE7LH': 'bob' });
    expect(config.telegram?.secretToken).toBe('a-secret-token-of-32-characters-');
  });

  it('a bad chatops section fails the alerts file with the line and field of each problem', () => {
    const path = file('secrets.yaml', 'chatops:\n  slack:\n    signingSecret: "${NOPE}"\n');
    expect(() => loadAlertsFile(path, {})).toThrow(
      `${path}:3:20: chatops.slack.signingSecret: environment variable NOPE is not set`,
    );
    const wrong = file(
      'wrong.yaml',
      [
        'chatops:',
        '  unmapped: write',
        '  users:',
        '    "whatsapp:1": alice',
        '  telegram: { botToken: "1:a", secretToken: short }',
      ].join('\n'),
    );
    const message = (() => {
      try {
        loadAlertsFile(wrong, {});
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toMatch(new RegExp(`${wrong}:2:\\d+: chatops\\.unmapped: `));
    expect(message).toMatch(new RegExp(`${wrong}:4:\\d+: chatops\\.users\\["whatsapp:1"\\]`));
    expect(message).toMatch(new RegExp(`${wrong}:5:\\d+: chatops\\.telegram\\.secretToken: `));
  });
});
