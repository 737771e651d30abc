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
