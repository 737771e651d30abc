/**
 * The dashboard's pages over real HTTP: a strict Content-Security-Policy holds (no inline script
 * or style; every file the pages load is served), no sniffing, no framing; the session cookie is
 * `Secure` when the dashboard is served over HTTPS (behind a trusted proxy: X-Forwarded-Proto).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TOKENS, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let proxied: TestServer;
beforeAll(async () => {
  [server, proxied] = await Promise.all([
    startTestServer([]),
    startTestServer([], { trustProxy: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([server.close(), proxied.close()]);
});

function expectStrictHeaders(headers: Headers, what: string): void {
  const csp = headers.get('content-security-policy') ?? '';
  expect(csp, `${what}: CSP`).toMatch(/default-src 'none'/);
  expect(csp, `${what}: CSP`).toMatch(/script-src 'self'(;|$)/);
  expect(csp, `${what}: CSP`).toMatch(/style-src 'self'(;|$)/);
  expect(csp, `${what}: CSP`).toMatch(/frame-ancestors 'none'/);
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
}

/** The page passes a strict CSP: nothing inline, and every file it loads is served as its type. */
async function expectCspClean(target: TestServer, html: string, what: string): Promise<void> {
  expect(html, `${what}: inline <script>`).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  expect(html, `${what}: <style>`).not.toMatch(/<style/i);
  expect(html, `${what}: style attribute`).not.toMatch(/\sstyle=/i);
  expect(html, `${what}: event handler attribute`).not.toMatch(/\son[a-z]+=/i);
  const files = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
  expect(files.length, `${what} loads its own files`).toBeGreaterThan(0);
  for (const file of files) {
    const res = await target.request('GET', file);
    expect(res.status, file).toBe(200);
    const type = { js: /^text\/javascript/, css: /^text\/css/, svg: /^image\/svg\+xml/ }[
      file.slice(file.lastIndexOf('.') + 1) as 'js' | 'css' | 'svg'
    ];
    expect(res.headers.get('content-type'), file).toMatch(type);
    expectStrictHeaders(res.headers, file);
  }
}

describe('dashboard', () => {
  it('the sign-in page and the dashboard work under a strict CSP, unframeable', async () => {
    const signIn = await server.request('GET', '/dashboard');
    expect(signIn.status).toBe(401);
    expectStrictHeaders(signIn.headers, 'sign-in page');
    await expectCspClean(server, String(signIn.body), 'sign-in page');

    const dashboard = await server.request('GET', '/dashboard', { token: TEST_TOKENS.viewer });
    expect(dashboard.status).toBe(200);
    expectStrictHeaders(dashboard.headers, 'dashboard');
    await expectCspClean(server, String(dashboard.body), 'dashboard');
    expect(String(dashboard.body)).toContain('/dashboard/assets/app.js');
    expect(String(dashboard.body)).toContain(
      '<meta name="jobdeck-events" content="run.created,run.started,',
    );

    const json = await server.request('GET', '/api/jobs', { token: TEST_TOKENS.viewer });
    expect(json.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await server.request('GET', '/dashboard/assets/nothing.js')).status).toBe(404);
  });

  it('the session cookie is Secure over HTTPS, as a trusted proxy reports it', async () => {
    const signIn = (target: TestServer, headers: Record<string, string> = {}) =>
      target.request('POST', '/api/session', {
        token: TEST_TOKENS.viewer,
        headers: { 'x-jobdeck-request': '1', ...headers },
      });
    const https = await signIn(proxied, { 'x-forwarded-proto': 'https' });
    expect(https.status).toBe(200);
    expect(https.headers.get('set-cookie')).toMatch(/;\s*Secure/);
    const cookie = https.headers.get('set-cookie')!.split(';')[0]!;
    const page = await proxied.request('GET', '/dashboard', { headers: { cookie } });
    expect(page.status).toBe(200);

    const plain = await signIn(proxied);
    expect(plain.headers.get('set-cookie')).not.toMatch(/Secure/);
    // Without a trusted proxy the header is anyone's to send: it changes nothing.
    const untrusted = await signIn(server, { 'x-forwarded-proto': 'https' });
    expect(untrusted.headers.get('set-cookie')).not.toMatch(/Secure/);
    const signOut = await proxied.request('DELETE', '/api/session', {
      headers: { cookie, 'x-jobdeck-request': '1', 'x-forwarded-proto': 'https' },
    });
    expect(signOut.headers.get('set-cookie')).toMatch(
      /Max-Age=0.*;\s*Secure|;\s*Secure.*Max-Age=0/,
    );
  });
});
