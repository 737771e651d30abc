import { describe, expect, it } from 'vitest';
import { TokenSet, secretEquals } from './auth.js';

describe('TokenSet', () => {
  it('refuses two principals with the same token, naming both and never the token', () => {
    const parse = () =>
      TokenSet.parse('alice:operator:shared-secret-1,bob:admin:shared-secret-1', 'JOBDECK_TOKENS');
    expect(parse).toThrow(/JOBDECK_TOKENS: alice and bob have the same token/);
    expect(parse).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(parse).not.toThrow(/shared-secret-1/);
  });

  it('resolves each distinct token to its own principal', () => {
    const tokens = TokenSet.parse('alice:operator:alice-secret-1,bob:admin:bob-secret-1');
    expect(tokens.lookup('alice-secret-1')).toEqual({ name: 'alice', role: 'operator' });
    expect(tokens.lookup('bob-secret-1')).toEqual({ name: 'bob', role: 'admin' });
    expect(tokens.lookup('nobody-secret')).toBeNull();
  });
});

describe('token rate limits', () => {
  it('reads rate=<max>/<window> after an entry, per token', () => {
    const tokens = TokenSet.parse(
      'ci:operator:ci-secret-1 rate=300/min\nbot:viewer:bot:secret:2   rate=10/30s\nalice:admin:alice-secret-1',
    );
    expect(tokens.match('ci-secret-1')).toMatchObject({
      principal: { name: 'ci', role: 'operator' },
      rateLimit: { max: 300, perMs: 60_000 },
    });
    expect(tokens.match('bot:secret:2')?.rateLimit).toEqual({ max: 10, perMs: 30_000 });
    expect(tokens.match('alice-secret-1')?.rateLimit).toBeNull();
    expect(tokens.match('ci-secret-1')?.key).not.toBe(tokens.match('bot:secret:2')?.key);
  });

  it('refuses an option it cannot read, naming the entry and never the token', () => {
    for (const option of ['rate=0/min', 'rate=5', 'rate=5/fortnight', 'limit=5/min', 'rate=-1/s']) {
      const parse = () => TokenSet.parse(`ci:operator:ci-secret-1 ${option}`, 'tokens.txt');
      expect(parse).toThrow(/tokens.txt: entry 1 \(ci\) has .*rate=<max>\/<window>/);
      expect(parse).not.toThrow(/ci-secret-1/);
    }
  });
});

describe('principals by name and secrets', () => {
  it('finds a principal by name, with the lowest role its tokens have', () => {
    const tokens = TokenSet.parse(
      'alice:admin:alice-secret-1,alice:operator:alice-secret-2,bob:viewer:bob-secret-1',
    );
    expect(tokens.principalNamed('alice')).toEqual({ name: 'alice', role: 'operator' });
    expect(tokens.principalNamed('bob')).toEqual({ name: 'bob', role: 'viewer' });
    expect(tokens.principalNamed('carol')).toBeNull();
  });

  it('compares secrets of any length', () => {
    expect(secretEquals('same-secret', 'same-secret')).toBe(true);
    expect(secretEquals('same-secret', 'same-secreT')).toBe(false);
    expect(secretEquals('short', 'a-much-longer-secret')).toBe(false);
    expect(secretEquals('', 'x')).toBe(false);
  });
});
