import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { JobdeckError } from '../core/errors.js';
import { ROLES, type Principal, type Role } from '../core/glossary.js';

interface TokenEntry {
  principal: Principal;
  digest: Buffer;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The configured API tokens. Lookups compare SHA-256 digests in constant time against every
 * entry, so neither the match nor its position leaks through timing. Tokens are never kept in clear.
 */
export class TokenSet {
  private readonly entries: TokenEntry[];

  constructor(triples: { principal: string; role: Role; token: string }[], source = 'tokens') {
    this.entries = triples.map((t) => ({
      principal: Object.freeze({ name: t.principal, role: t.role }),
      digest: digest(t.token),
    }));
    // A shared secret would silently resolve to one of its owners: refuse to start instead.
    const owners = new Map<string, string>();
    for (const { principal, digest: key } of this.entries) {
      const owner = owners.get(key.toString('hex'));
      if (owner !== undefined) {
        throw new JobdeckError(
          'INVALID_INPUT',
          `${source}: ${owner} and ${principal.name} have the same token; give each principal its own`,
        );
      }
      owners.set(key.toString('hex'), principal.name);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** `principal:role:token,…` as in JOBDECK_TOKENS (commas or new lines between triples). */
  static parse(text: string, source = 'JOBDECK_TOKENS'): TokenSet {
    const triples = text
      .split(/[,\n]/)
      .map((part) => part.trim())
      .filter((part) => part !== '' && !part.startsWith('#'))
      .map((part, index) => {
        const [principal, role, ...rest] = part.split(':');
        const token = rest.join(':');
        if (!principal || !role || !token) {
          throw new JobdeckError(
            'INVALID_INPUT',
            `${source}: entry ${index + 1} is not principal:role:token`,
          );
        }
        if (!(ROLES as readonly string[]).includes(role)) {
          throw new JobdeckError(
            'INVALID_INPUT',
            `${source}: entry ${index + 1} has role ${JSON.stringify(role)}; use viewer, operator or admin`,
          );
        }
        if (token.length < 8)
          throw new JobdeckError(
            'INVALID_INPUT',
            `${source}: the token of ${principal} is shorter than 8 characters`,
          );
        return { principal, role: role as Role, token };
      });
    return new TokenSet(triples, source);
  }

  static fromFile(path: string): TokenSet {
    return TokenSet.parse(readFileSync(path, 'utf8'), path);
  }

  /** A new random admin token, for a first start with none configured. */
  static generateAdmin(principal = 'admin'): { tokens: TokenSet; token: string } {
    const token = randomBytes(24).toString('base64url');
    return { tokens: new TokenSet([{ principal, role: 'admin', token }]), token };
  }

  /**
   * The principal of this name, for callers identified otherwise (a chat user mapped to it), or
   * null when no token has it. A name with tokens of several roles gets the lowest of them.
   */
  principalNamed(name: string): Principal | null {
    let found: Principal | null = null;
    for (const { principal } of this.entries) {
      if (principal.name !== name) continue;
      if (!found || ROLES.indexOf(principal.role) < ROLES.indexOf(found.role)) found = principal;
    }
    return found;
  }

  /** The principal of a token, or null. */
  lookup(token: string): Principal | null {
    const candidate = digest(token);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate)) found = entry.principal;
    }
    return found;
  }
}

/**
 * Whether a secret sent by a caller is the expected one, in constant time: both are hashed first,
 * so neither their contents nor their lengths leak through timing.
 */
export function secretEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The bearer token of an Authorization header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}
