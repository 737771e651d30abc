import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isChatCommand, runChatCommand, type ChatReply } from '../../chatops/commands.js';
import type { ChatopsConfig } from '../../chatops/config.js';
import {
  SLACK_SIGNATURE_HEADER,
  SLACK_TIMESTAMP_HEADER,
  slackRequestProblem,
  slackText,
} from '../../chatops/slack.js';
import {
  TELEGRAM_SECRET_HEADER,
  sendTelegramMessage,
  telegramUpdateSchema,
} from '../../chatops/telegram.js';
import { ChatUsers } from '../../chatops/users.js';
import { JobdeckError } from '../../core/errors.js';
import type { Principal } from '../../core/glossary.js';
import { secretEquals } from '../auth.js';
import type { ApiContext, App } from '../context.js';
import { sendError } from '../http-errors.js';
import { errorResponse } from '../schemas.js';

/** The longest command text accepted. */
const TEXT_LIMIT = 4000;
/** Telegram sends an update again when its webhook fails: the ids seen lately are skipped. */
const RECENT_UPDATES = 1000;

/**
 * ChatOps over HTTP: `POST /api/chatops` for API tokens (the CLI's `jobdeck chat`), and the
 * Telegram webhook and Slack slash command, which prove who sends them with the platform's secret
 * and act as the chat user's principal (`chatops.users`). The Slack route has a scope of its own,
 * where bodies are kept as text, so that its signature can be checked over them.
 */
export async function chatopsRoutes(
  app: App,
  { deck, tokens }: ApiContext,
  config: ChatopsConfig | null,
): Promise<void> {
  const users = config ? new ChatUsers(config, (name) => tokens.principalNamed(name)) : null;

  const answer = async (
    request: FastifyRequest,
    principal: Principal | null,
    text: string,
    user?: string,
  ): Promise<ChatReply> => {
    try {
      return await runChatCommand(deck, { principal, text, ...(user ? { user } : {}) });
    } catch (err) {
      // A chat cannot show an error body: it gets a sentence, the log the details.
      request.log.error({ err }, 'chat command failed');
      return {
        text: `Jobdeck could not answer: an internal error (request ${String(request.id)}).`,
        changed: false,
      };
    }
  };

  app.route({
    method: 'POST',
    url: '/api/chatops',
    config: { role: 'viewer' },
    schema: {
      operationId: 'runChatCommand',
      summary: "Answer a /jobs chat command as the token's principal",
      description:
        'The text a chat would get, for the same principal: `jobdeck chat "/jobs active"` prints it.',
      tags: ['chatops'],
      body: z.object({ text: z.string().min(1).max(TEXT_LIMIT) }).strict(),
      response: { 200: z.object({ text: z.string() }) },
    },
    handler: async (request) => {
      const reply = await runChatCommand(deck, {
        principal: request.principal!,
        text: request.body.text,
      });
      return { text: reply.text };
    },
  });

  const recentUpdates = new Set<number>();
  app.route({
    method: 'POST',
    url: '/api/chatops/telegram',
    config: { role: 'none' },
    schema: {
      operationId: 'receiveTelegramUpdate',
      summary: 'Telegram webhook: /jobs commands from a chat, answered through the Bot API',
      description: `Verified by the ${TELEGRAM_SECRET_HEADER} header (\`chatops.telegram.secretToken\`); 401 and nothing done when it does not match. 200 to every verified update, acted on or not, so Telegram does not send it again; 400 for a body that is not an update.`,
      tags: ['chatops'],
      body: telegramUpdateSchema,
      response: {
        200: z.object({ ok: z.literal(true) }),
        401: errorResponse(
          `UNAUTHENTICATED: the ${TELEGRAM_SECRET_HEADER} header is not the secret`,
        ),
        404: errorResponse('NOT_FOUND: Telegram ChatOps is not set up (`chatops.telegram`)'),
      },
    },
    // Before the body is read: an unverified caller gets 401 whatever it sends.
    onRequest: async (request, reply) => {
      const telegram = config?.telegram;
      if (!telegram)
        return refuse(
          request,
          reply,
          'NOT_FOUND',
          'Telegram ChatOps is not set up (chatops.telegram).',
        );
      const secret = request.headers[TELEGRAM_SECRET_HEADER];
      if (typeof secret !== 'string' || !secretEquals(secret, telegram.secretToken))
        return refuse(
          request,
          reply,
          'UNAUTHENTICATED',
          `The ${TELEGRAM_SECRET_HEADER} header is not the configured secret token.`,
        );
    },
    handler: async (request) => {
      const telegram = config!.telegram!;
      const update = request.body;
      const message = update.message;
      if (!message?.text || !message.from || !isChatCommand(message.text))
        return { ok: true as const };
      if (recentUpdates.has(update.update_id)) return { ok: true as const };
      recentUpdates.add(update.update_id);
      if (recentUpdates.size > RECENT_UPDATES)
        recentUpdates.delete(recentUpdates.values().next().value!);
      const principal = users!.principalOf('telegram', message.from.id);
      const user = ChatUsers.key('telegram', message.from.id);
      const reply = await answer(request, principal, message.text, user);
      const problem = await sendTelegramMessage(telegram, {
        chatId: message.chat.id,
        text: reply.text,
        replyTo: message.message_id,
      });
      if (problem) request.log.warn({ problem, user }, 'the Telegram reply was not sent');
      return { ok: true as const };
    },
  });

  await app.register(async (scope) => {
    // Whatever its type, the body is read as text: the signature is over the bytes as sent.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) =>
      done(null, body),
    );
    (scope as App).route({
      method: 'POST',
      url: '/api/chatops/slack',
      config: { role: 'none' },
      schema: {
        operationId: 'receiveSlackCommand',
        summary: 'Slack slash command: /jobs commands, answered in the HTTP response',
        description: `Form-encoded as Slack sends it, signed with \`chatops.slack.signingSecret\` (${SLACK_SIGNATURE_HEADER}, ${SLACK_TIMESTAMP_HEADER} within 5 minutes); 401 and nothing done otherwise. The command's text is what follows \`/jobs\`.`,
        tags: ['chatops'],
        consumes: ['application/x-www-form-urlencoded'],
        response: {
          200: z.object({ response_type: z.enum(['ephemeral', 'in_channel']), text: z.string() }),
          401: errorResponse(
            'UNAUTHENTICATED: the signature is not valid, or the timestamp is not within 5 minutes',
          ),
          404: errorResponse('NOT_FOUND: Slack ChatOps is not set up (`chatops.slack`)'),
        },
      },
      // After the body is read (the signature covers it), before anything reads its fields.
      preValidation: async (request, reply) => {
        const slack = config?.slack;
        if (!slack)
          return refuse(
            request,
            reply,
            'NOT_FOUND',
            'Slack ChatOps is not set up (chatops.slack).',
          );
        const problem = slackRequestProblem({
          signingSecret: slack.signingSecret,
          timestamp: header(request, SLACK_TIMESTAMP_HEADER),
          signature: header(request, SLACK_SIGNATURE_HEADER),
          body: typeof request.body === 'string' ? request.body : '',
          now: deck.clock.now(),
        });
        if (problem) return refuse(request, reply, 'UNAUTHENTICATED', problem);
      },
      handler: async (request) => {
        const form = new URLSearchParams(typeof request.body === 'string' ? request.body : '');
        const userId = form.get('user_id') ?? '';
        const text = (form.get('text') ?? '').slice(0, TEXT_LIMIT);
        const principal = userId ? users!.principalOf('slack', userId) : null;
        const user = userId ? ChatUsers.key('slack', userId) : 'this Slack user';
        const reply = await answer(request, principal, `/jobs ${text}`, user);
        // What changed is shown to the channel; what was only read, to the one who asked.
        return {
          response_type: reply.changed ? ('in_channel' as const) : ('ephemeral' as const),
          text: slackText(reply.text),
        };
      },
    });
  });
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  code: 'NOT_FOUND' | 'UNAUTHENTICATED',
  message: string,
): FastifyReply {
  return sendError(reply, request, new JobdeckError(code, message));
}
