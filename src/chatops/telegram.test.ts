import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TELEGRAM_TEXT_LIMIT, sendTelegramMessage, telegramText } from './telegram.js';

describe('Telegram replies', () => {
  it('keep short text, and cut long text at a line', () => {
    expect(telegramText('short')).toBe('short');
    const long = Array.from({ length: 500 }, (_, i) => `line ${i} of a long answer`).join('\n');
    const cut = telegramText(long);
    expect(cut.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    expect(cut.endsWith('\n…')).toBe(true);
    expect(long.startsWith(cut.slice(0, -2))).toBe(true);
  });

  it("report Telegram's refusal, or no connection, without the bot token", async () => {
    const botToken = '987654:secret-bot-token';
    const server = http.createServer((request, response) => {
      response.statusCode = 401;
      response.setHeader('content-type', 'application/json');
      // A refusal that quotes the URL must not leak the token either.
      response.end(JSON.stringify({ ok: false, description: `Unauthorized ${request.url}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const refused = await sendTelegramMessage({ apiBase, botToken }, { chatId: 1, text: 'hi' });
    expect(refused).toBe('HTTP 401: Unauthorized /bot<bot token>/sendMessage');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Nothing listens there any more.
    const unreachable = await sendTelegramMessage({ apiBase, botToken }, { chatId: 1, text: 'hi' });
    expect(unreachable).toBe('ECONNREFUSED');
  });
});
