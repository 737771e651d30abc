import { describe, expect, it } from 'vitest';
import { SessionStore } from './sessions.js';

const alice = { name: 'alice', role: 'operator' } as const;
const HOUR = 3600_000;

describe('SessionStore', () => {
  it('keeps at most maxSessions: the least recently used one is evicted first', () => {
    const sessions = new SessionStore({ maxSessions: 3 });
    const [a, b, c] = [
      sessions.create(alice, 0),
      sessions.create(alice, 1),
      sessions.create(alice, 2),
    ];
    expect(sessions.lookup(a, 3)).toEqual(alice); // a is now the most recently used
    const d = sessions.create(alice, 4);
    expect(sessions.size).toBe(3);
    expect(sessions.lookup(b, 5)).toBeNull();
    for (const id of [a, c, d]) expect(sessions.lookup(id, 5)).toEqual(alice);
  });

  it('50,000 sign-ins hold no more than the cap', () => {
    const sessions = new SessionStore({ maxSessions: 1000 });
    for (let i = 0; i < 50_000; i++) sessions.create(alice, i);
    expect(sessions.size).toBe(1000);
  });

  it('a session idle for longer than idleMs is gone; one in use lives until its absolute end', () => {
    const sessions = new SessionStore({ idleMs: HOUR, ttlMs: 12 * HOUR });
    const idle = sessions.create(alice, 0);
    const used = sessions.create(alice, 0);
    for (let t = 0.5 * HOUR; t < 12 * HOUR; t += 0.5 * HOUR)
      expect(sessions.lookup(used, t)).toEqual(alice);
    expect(sessions.lookup(idle, 2 * HOUR)).toBeNull();
    expect(sessions.lookup(used, 12 * HOUR + 1)).toBeNull();
    sessions.create(alice, 12 * HOUR + 2);
    expect(sessions.size).toBe(1);
  });

  it('isActive tells an open stream whether its session is still signed in, without using it', () => {
    const sessions = new SessionStore({ idleMs: HOUR, ttlMs: 12 * HOUR });
    const signedOut: string[] = [];
    sessions.onSignOut((id) => signedOut.push(id));
    const a = sessions.create(alice, 0);
    const b = sessions.create(alice, 0);
    expect(sessions.isActive(a, 0.5 * HOUR)).toBe(true);
    // Asking is not a use: the session still goes idle an hour after its last request.
    expect(sessions.isActive(a, 1.5 * HOUR)).toBe(false);
    sessions.delete(b);
    sessions.delete(b);
    expect(signedOut).toEqual([b]);
    expect(sessions.isActive(b, 0)).toBe(false);
  });
});
