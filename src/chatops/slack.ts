import { createHmac } from 'node:crypto';
import { secretEquals } from '../api/auth.js';

/** Slack signs each request: `v0=` and the HMAC-SHA256 of `v0:<timestamp>:<body>`. */
export const SLACK_SIGNATURE_HEADER = 'x-slack-signature';
export const SLACK_TIMESTAMP_HEADER = 'x-slack-request-timestamp';
/** A request signed longer ago (or ahead) than this is refused: a replay, or a wrong clock. */
export const SLACK_MAX_SKEW_MS = 5 * 60_000;

/** The signature Slack sends with `body` at `timestamp` (seconds since the epoch). */
export function slackSignature(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/**
 * Why a request does not come from Slack, or null when its signature holds and its timestamp is
 * within five minutes of `now`. The signature is compared in constant time.
 */
export function slackRequestProblem(request: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  body: string;
  now: Date;
}): string | null {
  const { timestamp, signature } = request;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp))
    return `The ${SLACK_TIMESTAMP_HEADER} header is missing or not a time.`;
  if (Math.abs(request.now.getTime() - Number(timestamp) * 1000) > SLACK_MAX_SKEW_MS)
    return 'The Slack request was signed more than 5 minutes from now.';
  if (!signature) return `The ${SLACK_SIGNATURE_HEADER} header is missing.`;
  const expected = slackSignature(request.signingSecret, timestamp, request.body);
  return secretEquals(signature, expected) ? null : 'The Slack signature is not valid.';
}

/** Text for Slack: `&`, `<` and `>` are its markup, so they are escaped. */
export function slackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
