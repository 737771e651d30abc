import { z } from 'zod';
import { failureReason, telegramMethodUrl } from '../alerts/channels.js';

/** The header in which Telegram sends the webhook's `secret_token` with every update. */
export const TELEGRAM_SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** The most text one Telegram message holds. */
export const TELEGRAM_TEXT_LIMIT = 4096;

/** The parts of a Telegram update that ChatOps reads; the rest is ignored. */
export const telegramUpdateSchema = z.object({
  update_id: z.number().int(),
  message: z
    .object({
      message_id: z.number().int(),
      from: z.object({ id: z.number().int() }).optional(),
      chat: z.object({ id: z.number().int() }),
      text: z.string().optional(),
    })
    .optional(),
});
export type TelegramUpdate = z.output<typeof telegramUpdateSchema>;

/** Text that fits one message: cut at a line when it is too long. */
export function telegramText(text: string): string {
  if (text.length <= TELEGRAM_TEXT_LIMIT) return text;
  const cut = text.slice(0, TELEGRAM_TEXT_LIMIT - 2);
  const line = cut.lastIndexOf('\n');
  return `${line > 0 ? cut.slice(0, line) : cut}\n…`;
}

/**
 * Send `text` to a chat through the Bot API's sendMessage, as a reply to `replyTo`. Resolves with
 * the failure's reason, or null once Telegram accepted it. The reason never holds the bot token,
 * which is part of the URL.
 */
export async function sendTelegramMessage(
  bot: { apiBase: string; botToken: string },
  message: { chatId: number; text: string; replyTo?: number },
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<string | null> {
  const url = telegramMethodUrl(bot.apiBase, bot.botToken, 'sendMessage');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        chat_id: message.chatId,
        text: telegramText(message.text),
        link_preview_options: { is_disabled: true },
        ...(message.replyTo === undefined
          ? {}
          : {
              reply_parameters: { message_id: message.replyTo, allow_sending_without_reply: true },
            }),
      }),
      signal,
      redirect: 'error',
    });
    const answer = (await response.json().catch(() => null)) as {
      ok?: unknown;
      description?: unknown;
    } | null;
    if (response.ok && answer?.ok !== false) return null;
    const said = typeof answer?.description === 'string' ? `: ${answer.description}` : '';
    return `HTTP ${response.status}${said}`.split(bot.botToken).join('<bot token>');
  } catch (err) {
    if (signal.aborted) return `no answer within ${timeoutMs} ms`;
    return failureReason(err).split(bot.botToken).join('<bot token>');
  }
}
