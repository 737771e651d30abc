import { createHmac } from 'node:crypto';
import type { ChannelConfig } from './config.js';

/** What a channel sends: the alert as rendered when its rule fired. */
export interface OutgoingAlert {
  id: string;
  rule: string;
  severity: string;
  event: string;
  message: string;
  /** The webhook body. */
  payload: unknown;
  /** The run's dashboard page, when there is one. */
  link: string | null;
}

/** How one attempt went. */
export interface SendResult {
  ok: boolean;
  durationMs: number;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why it failed, secrets removed. */
  error?: string;
}

export const SIGNATURE_HEADER = 'x-jobdeck-signature';
export const TIMESTAMP_HEADER = 'x-jobdeck-timestamp';

/**
 * The signature of a webhook body: `sha256=` and the hex HMAC-SHA256, keyed by the channel's
 * secret, of `<timestamp>.<body>` (the timestamp in Unix seconds, as sent in X-Jobdeck-Timestamp).
 * A receiver recomputes it over the raw body and compares in constant time; checking that the
 * timestamp is recent stops replays.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const SEVERITY_MARK: Record<string, string> = {
  info: 'ℹ️',
  warning: '⚠️',
  error: '❗',
  critical: '🚨',
};

/** The alert as one short chat message: severity, rule, message, and the link unless it is in it. */
export function chatText(alert: OutgoingAlert): string {
  const mark = SEVERITY_MARK[alert.severity] ?? '🔔';
  const head = `${mark} [${alert.severity}] ${alert.rule}: ${alert.message}`;
  return alert.link && !alert.message.includes(alert.link) ? `${head}\n${alert.link}` : head;
}

/** The values of a channel that must never be shown: its secret, token, or secret URL. */
export function channelSecrets(channel: ChannelConfig): string[] {
  switch (channel.type) {
    case 'webhook':
      return [channel.secret];
    case 'slack':
      return [channel.url, new URL(channel.url).pathname].filter((s) => s.length > 1);
    case 'telegram':
      return [channel.botToken];
  }
}

/** `text` with every secret replaced by `[redacted]`. */
export function redact(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets.filter(Boolean).sort((a, b) => b.length - a.length))
    result = result.split(secret).join('[redacted]');
  return result;
}

/** A channel's request for one alert. */
function request(
  channel: ChannelConfig,
  alert: OutgoingAlert,
  now: Date,
): { url: string; headers: Record<string, string>; body: string } {
  const json = { 'content-type': 'application/json', 'user-agent': 'jobdeck' };
  switch (channel.type) {
    case 'webhook': {
      const body = JSON.stringify(alert.payload);
      const timestamp = String(Math.floor(now.getTime() / 1000));
      return {
        url: channel.url,
        body,
        headers: {
          ...json,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: webhookSignature(channel.secret, timestamp, body),
          // The same on every retry: a receiver can drop a repeat.
          'x-jobdeck-alert': alert.id,
          'x-jobdeck-event': alert.event,
        },
      };
    }
    case 'slack':
      return { url: channel.url, headers: json, body: JSON.stringify({ text: chatText(alert) }) };
    case 'telegram':
      return {
        url: telegramMethodUrl(channel.apiBase, channel.botToken, 'sendMessage'),
        headers: json,
        body: JSON.stringify({
          chat_id: channel.chatId,
          text: chatText(alert),
          disable_web_page_preview: true,
        }),
      };
  }
}

/**
 * Send one alert through one channel, once, within `timeoutMs`. A 2xx answer is a delivery (for
 * Telegram, also `ok: true` in its answer); anything else is a failure with its reason.
 */
export async function sendToChannel(
  channel: ChannelConfig,
  alert: OutgoingAlert,
  options: { timeoutMs: number; fetch?: typeof fetch; now?: Date; signal?: AbortSignal },
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const secrets = channelSecrets(channel);
  const { url, headers, body } = request(channel, alert, options.now ?? new Date());
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const response = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers,
      body,
      signal,
      redirect: 'error',
    });
    const text = await response.text();
    if (!response.ok) {
      return {
        ok: false,
        durationMs: elapsed(),
        status: response.status,
        error: redact(`HTTP ${response.status}: ${text.slice(0, 200)}`, secrets),
      };
    }
    if (channel.type === 'telegram') {
      const answer = parseJson(text) as { ok?: unknown; description?: unknown } | null;
      if (answer && answer.ok === false) {
        return {
          ok: false,
          durationMs: elapsed(),
          status: response.status,
          error: redact(`Telegram: ${String(answer.description)}`, secrets),
        };
      }
    }
    return { ok: true, durationMs: elapsed(), status: response.status };
  } catch (err) {
    const reason = signal.aborted ? `no answer within ${options.timeoutMs} ms` : failureReason(err);
    return { ok: false, durationMs: elapsed(), error: redact(reason, secrets) };
  }
}

/** The URL of a Bot API method; it holds the bot token, so it is never shown. */
export function telegramMethodUrl(apiBase: string, botToken: string, method: string): string {
  return `${apiBase.replace(/\/+$/, '')}/bot${botToken}/${method}`;
}

/** A failed fetch's reason: the socket's code (ECONNREFUSED…) when there is one. */
export function failureReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** The JSON of a text, or null when it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
