import { z } from 'zod';
import { TELEGRAM_API_BASE, fieldName, httpUrl } from '../core/config-values.js';
import { JobdeckError } from '../core/errors.js';

/**
 * The `chatops:` section of the alerts file: who a chat user acts as, and the secrets that prove a
 * request comes from Telegram or Slack. `${ENV_VAR}` references are replaced by the file's loader
 * before this schema sees the values.
 */

/** The chat platforms a command can come from. */
export const CHAT_PLATFORMS = ['telegram', 'slack'] as const;
export type ChatPlatform = (typeof CHAT_PLATFORMS)[number];

/** `telegram:<user id>` or `slack:<user id>`: a chat user as `chatops.users` names them. */
const CHAT_USER = /^(telegram|slack):[A-Za-z0-9_-]{1,64}$/;

export const chatopsConfigSchema = z.strictObject({
  /** Chat user → the principal (a name of the tokens file) they act as. */
  users: z
    .record(
      z.string().regex(CHAT_USER, 'a chat user is telegram:<user id> or slack:<user id>'),
      z.string().min(1).max(128),
    )
    .nullish()
    .transform((users) => users ?? {}),
  /** What a chat user not in `users` may do: read (`/jobs`, lists, a job), or nothing. */
  unmapped: z.enum(['read', 'none']).default('read'),
  telegram: z
    .strictObject({
      /** The bot's token from @BotFather; replies are sent with it. */
      botToken: z
        .string()
        .regex(/^\d+:[A-Za-z0-9_-]+$/, 'a bot token looks like 123456:ABC-DEF1234ghIkl'),
      /**
       * The `secret_token` given to setWebhook: Telegram sends it in
       * X-Telegram-Bot-Api-Secret-Token with every update.
       */
      secretToken: z
        .string()
        .regex(
          /^[A-Za-z0-9_-]{16,256}$/,
          '16 to 256 characters: letters, digits, "_" and "-" (what Telegram accepts)',
        ),
      /** The Bot API's base URL. */
      apiBase: httpUrl.default(TELEGRAM_API_BASE),
    })
    .optional(),
  slack: z
    .strictObject({
      /** The app's Signing Secret: each request is signed with it. */
      signingSecret: z.string().min(1, 'must not be empty'),
    })
    .optional(),
});

/** The `chatops:` section as written. */
export type ChatopsConfigInput = z.input<typeof chatopsConfigSchema>;
/** The `chatops:` section, validated, with its defaults. */
export type ChatopsConfig = z.output<typeof chatopsConfigSchema>;

/**
 * Validate the `chatops:` section (`undefined` or `null`: no ChatOps section, so the defaults).
 * A problem is INVALID_INPUT naming each field, e.g. `chatops.telegram.secretToken`.
 */
export function parseChatopsConfig(value: unknown, source = 'chatops'): ChatopsConfig {
  const parsed = chatopsConfigSchema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.flatMap((issue) => {
    const path = ['chatops', ...issue.path.filter((p) => typeof p !== 'symbol')] as (
      | string
      | number
    )[];
    return issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...path, key], message: 'is not a known field' }))
      : [{ path, message: issue.message }];
  });
  throw new JobdeckError(
    'INVALID_INPUT',
    `${source}: ${details.map((d) => `${fieldName(d.path)}: ${d.message}`).join('; ')}`,
    { details },
  );
}
