import { describe, expect, it } from 'vitest';
import { slackRequestProblem, slackSignature, slackText } from './slack.js';

describe('Slack request signatures', () => {
  // The example of Slack's documentation on verifying requests.
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const timestamp = '1531420618';
  const body =
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const signature = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
  const at = new Date(Number(timestamp) * 1000);

  it("computes Slack's example signature", () => {
    expect(slackSignature(secret, timestamp, body)).toBe(signature);
  });

  it('accepts it within 5 minutes, either way', () => {
    const check = (now: Date, sig = signature) =>
      slackRequestProblem({ signingSecret: secret, timestamp, signature: sig, body, now });
    expect(check(at)).toBeNull();
    expect(check(new Date(at.getTime() + 5 * 60_000))).toBeNull();
    expect(check(new Date(at.getTime() - 5 * 60_000))).toBeNull();
    expect(check(new Date(at.getTime() + 6 * 60_000))).toBe(
      'The Slack request was signed more than 5 minutes from now.',
    );
    expect(check(at, signature.replace(/.$/, '4'))).toBe('The Slack signature is not valid.');
    expect(check(at, '')).toBe('The x-slack-signature header is missing.');
    expect(
      slackRequestProblem({ signingSecret: secret, timestamp: 'soon', signature, body, now: at }),
    ).toBe('The x-slack-request-timestamp header is missing or not a time.');
    expect(
      slackRequestProblem({
        signingSecret: secret,
        timestamp,
        signature,
        body: body + 'x',
        now: at,
      }),
    ).toBe('The Slack signature is not valid.');
  });

  it("escapes Slack's three markup characters", () => {
    expect(slackText('a < b && c > d')).toBe('a &lt; b &amp;&amp; c &gt; d');
  });
});
