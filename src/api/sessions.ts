import { randomBytes } from 'node:crypto';
import type { Principal } from '../core/glossary.js';

export const SESSION_COOKIE = 'jobdeck_session';
const SESSION_TTL_MS = 12 * 3600 * 1000;

/**
 * Dashboard sign-in sessions: a browser cannot put a bearer token on a page load, so signing in
 * trades a valid token for an opaque, HttpOnly, SameSite=Strict cookie. Kept in memory: a restart
 * signs everyone out.
 */
export class SessionStore {
  private readonly sessions = new Map<string, { principal: Principal; expires: number }>();

  create(principal: Principal, now = Date.now()): string {
    this.prune(now);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { principal, expires: now + SESSION_TTL_MS });
    return id;
  }

  lookup(id: string, now = Date.now()): Principal | null {
    const session = this.sessions.get(id);
    if (!session || session.expires < now) return null;
    return session.principal;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private prune(now: number): void {
    for (const [id, session] of this.sessions) if (session.expires < now) this.sessions.delete(id);
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

export function sessionCookie(id: string, maxAgeSeconds = SESSION_TTL_MS / 1000): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}
