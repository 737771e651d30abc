import type { IncomingMessage } from 'node:http';

/**
 * `fetch` over node:http(s) for the command line: Node's own fetch loads undici on first use,
 * about a quarter of a second of every client command's start. It does what JobdeckClient asks
 * of fetch, no more: a method, headers as a plain object, a string body and a signal; an answer
 * with its status, text, JSON and body stream. No redirects and no proxies, as with Node's fetch
 * by default; a failed connection is a TypeError whose cause carries the system's code, as there.
 */
export const httpFetch: typeof fetch = async (input, init = {}) => {
  const url = new URL(
    typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
  );
  const { request } =
    url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers as Record<string, string> | undefined,
        ...(signal ? { signal } : {}),
      },
      (res) => resolve(answer(res)),
    );
    req.on('error', (err) => {
      // Aborted: the signal's reason (an AbortError), as fetch rejects with.
      const reason: unknown = signal?.aborted ? signal.reason : null;
      reject(reason instanceof Error ? reason : new TypeError('fetch failed', { cause: err }));
    });
    req.end(init.body as string | undefined);
  });
};

function answer(res: IncomingMessage): Response {
  const status = res.statusCode ?? 0;
  let read: Promise<string> | undefined;
  const text = () =>
    (read ??= (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    })());
  const response = {
    ok: status >= 200 && status < 300,
    status,
    statusText: res.statusMessage ?? '',
    // The stream of the body's chunks, as JobdeckClient.events reads it.
    body: res,
    text,
    json: async () => JSON.parse(await text()) as unknown,
  };
  return response as unknown as Response;
}
