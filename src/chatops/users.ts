import { JobdeckError } from '../core/errors.js';
import type { Principal } from '../core/glossary.js';
import type { ChatPlatform, ChatopsConfig } from './config.js';

/**
 * Who a chat user acts as. A user named in `chatops.users` is the principal of that name, with the
 * role its API token has, so chat follows the same roles and ownership as the API. Anyone else
 * reads as a viewer named after their chat id (`telegram:12345`), or may do nothing at all.
 */
export class ChatUsers {
  private readonly mapped = new Map<string, Principal>();

  /**
   * `principalNamed` gives the principal of a name (from the API tokens). A mapped name that has
   * no token has no role: refused at start, naming the entry.
   */
  constructor(
    private readonly config: Pick<ChatopsConfig, 'users' | 'unmapped'>,
    principalNamed: (name: string) => Principal | null,
  ) {
    for (const [user, name] of Object.entries(config.users)) {
      const principal = principalNamed(name);
      if (!principal) {
        throw new JobdeckError(
          'INVALID_INPUT',
          `chatops.users[${JSON.stringify(user)}]: ${name} has no API token, so no role; give ${name} a token (JOBDECK_TOKENS) or map ${user} to a principal that has one`,
          { details: [{ path: ['chatops', 'users', user], message: `${name} has no API token` }] },
        );
      }
      this.mapped.set(user, principal);
    }
  }

  /** The key of a chat user, as `chatops.users` names them. */
  static key(platform: ChatPlatform, userId: string | number): string {
    return `${platform}:${userId}`;
  }

  /** The principal a chat user acts as, or null when they may do nothing. */
  principalOf(platform: ChatPlatform, userId: string | number): Principal | null {
    const key = ChatUsers.key(platform, userId);
    const principal = this.mapped.get(key);
    if (principal) return principal;
    // A colon never appears in a token's principal name, so a reader cannot pass for one.
    return this.config.unmapped === 'read' ? Object.freeze({ name: key, role: 'viewer' }) : null;
  }
}
