import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toMs } from '../core/duration.js';
import { JobdeckError } from '../core/errors.js';
import { ROLES, type Principal, type Role } from '../core/glossary.js';

/** At most `max` requests in each `perMs`, for one token. */
export interface TokenRateLimit {
  max: number;
  perMs: number;
}

interface TokenEntry {
  principal: Principal;
  digest: Buffer;
  rateLimit: TokenRateLimit | null;
}

/** A token's entry with what it may do: its principal and request rate. */
export interface TokenMatch {
  principal: Principal;
  rateLimit: TokenRateLimit | null;
  /** Names the token (not its principal: a principal may have several) in rate counters. */
  key: string;
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

  constructor(
    triples: { principal: string; role: Role; token: string; rateLimit?: TokenRateLimit | null }[],
    source = 'tokens',
  ) {
    this.entries = triples.map((t) => ({
      principal: Object.freeze({ name: t.principal, role: t.role }),
      digest: digest(t.token),
      rateLimit: t.rateLimit ?? null,
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

  /**
   * `principal:role:token,…` as in JOBDECK_TOKENS (commas or new lines between entries); an entry
   * may end with ` rate=<max>/<window>` (`rate=300/min`, `rate=10/30s`) to limit its requests.
   */
  static parse(text: string, source = 'JOBDECK_TOKENS'): TokenSet {
    const triples = text
      .split(/[,\n]/)
      .map((part) => part.trim())
      .filter((part) => part !== '' && !part.startsWith('#'))
      .map((part, index) => {
        const [entry = '', ...options] = part.split(/\s+/);
        const [principal, role, ...rest] = entry.split(':');
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
        let rateLimit: TokenRateLimit | null = null;
        for (const option of options) {
          const limit = parseRate(option);
          if (!limit)
            throw new JobdeckError(
              'INVALID_INPUT',
              `${source}: entry ${index + 1} (${principal}) has ${JSON.stringify(option)}; the only option is rate=<max>/<window>, a max of 1 or more and a window in ms, s, min, h or d, as in rate=300/min or rate=10/30s`,
            );
          rateLimit = limit;
        }
        return { principal, role: role as Role, token, rateLimit };
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
    return this.match(token)?.principal ?? null;
  }

  /** The entry of a token: its principal and request rate; null for an unknown token. */
  match(token: string): TokenMatch | null {
    const candidate = digest(token);
    // Every entry is compared, the match or not: its position must not show in the time taken.
    let found = -1;
    this.entries.forEach((entry, index) => {
      if (timingSafeEqual(entry.digest, candidate)) found = index;
    });
    const entry = this.entries[found];
    return entry
      ? { principal: entry.principal, rateLimit: entry.rateLimit, key: `token-${found}` }
      : null;
  }
}

/** `rate=300/min`: at most 300 requests a minute; null when the option is not one. */
function parseRate(option: string): TokenRateLimit | null {
  const match = /^rate=(\d+)\/(\S+)$/.exec(option);
  if (!match) return null;
  const max = Number(match[1]);
  // `min` alone reads as one minute.
  const window = /^[a-z]/i.test(match[2]!) ? `1${match[2]}` : match[2]!;
  let perMs: number;
  try {
    perMs = toMs(window);
  } catch {
    return null;
  }
  return Number.isSafeInteger(max) && max >= 1 && perMs >= 1 ? { max, perMs } : null;
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
