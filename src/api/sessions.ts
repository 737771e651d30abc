import { randomBytes } from 'node:crypto';
import type { Principal } from '../core/glossary.js';

export const SESSION_COOKIE = 'jobdeck_session';
const SESSION_TTL_MS = 12 * 3600 * 1000;

export interface SessionLimits {
  /** Absolute life of a session (the cookie's Max-Age). Default 12 h. */
  ttlMs?: number;
  /** A session unused for this long ends. Default 1 h. */
  idleMs?: number;
  /** Sessions held at most; beyond it the least recently used one ends. Default 10,000. */
  maxSessions?: number;
}

interface Session {
  principal: Principal;
  expires: number;
  lastUsed: number;
}

/**
 * Dashboard sign-in sessions: a browser cannot put a bearer token on a page load, so signing in
 * trades a valid token for an opaque, HttpOnly, SameSite=Strict cookie. Kept in memory: a restart
 * signs everyone out. Bounded in count and idle time, so a flood of sign-ins cannot grow memory.
 */
export class SessionStore {
  // In order of last use (a lookup moves its session to the end): the front is the oldest.
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly idleMs: number;
  private readonly maxSessions: number;
  private readonly endListeners = new Set<(id: string) => void>();

  constructor(limits: SessionLimits = {}) {
    this.ttlMs = limits.ttlMs ?? SESSION_TTL_MS;
    this.idleMs = limits.idleMs ?? 3600 * 1000;
    this.maxSessions = limits.maxSessions ?? 10_000;
  }

  get size(): number {
    return this.sessions.size;
  }

  create(principal: Principal, now = Date.now()): string {
    this.prune(now);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { principal, expires: now + this.ttlMs, lastUsed: now });
    for (const oldest of this.sessions.keys()) {
      if (this.sessions.size <= this.maxSessions) break;
      this.sessions.delete(oldest);
    }
    return id;
  }

  lookup(id: string, now = Date.now()): Principal | null {
    const session = this.sessions.get(id);
    if (!session) return null;
    this.sessions.delete(id);
    if (session.expires < now || session.lastUsed + this.idleMs < now) return null;
    session.lastUsed = now;
    this.sessions.set(id, session);
    return session.principal;
  }

  /** Whether the session is still signed in, without counting this as a use. */
  isActive(id: string, now = Date.now()): boolean {
    const session = this.sessions.get(id);
    return !!session && session.expires >= now && session.lastUsed + this.idleMs >= now;
  }

  /** Sign the session out; whatever was opened with it (event streams) hears of it. */
  delete(id: string): void {
    if (!this.sessions.delete(id)) return;
    for (const listener of this.endListeners) listener(id);
  }

  /** Hear of each session signed out; returns the unsubscribe. */
  onSignOut(listener: (id: string) => void): () => void {
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  /** Ends the idle sessions at the front; the others end when next looked up or evicted. */
  private prune(now: number): void {
    for (const [id, session] of this.sessions) {
      if (session.lastUsed + this.idleMs >= now && session.expires >= now) break;
      this.sessions.delete(id);
    }
  }
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

/** The session cookie; `secure` when the browser reached us over HTTPS (never sent over HTTP then). */
export function sessionCookie(
  id: string,
  options: { secure: boolean; maxAgeSeconds?: number },
): string {
  const maxAge = options.maxAgeSeconds ?? SESSION_TTL_MS / 1000;
  const secure = options.secure ? '; Secure' : '';
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`;
}
