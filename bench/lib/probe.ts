import http from 'node:http';

export interface ProbeOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  count: number;
  /** One request starts every `intervalMs`, whatever the earlier ones take. */
  intervalMs: number;
  /** A request without an answer for this long counts as a failure. Default 10 s. */
  timeoutMs?: number;
}

export interface ProbeResult {
  /** Request sent → whole answer read, for each 200 answer. */
  latenciesMs: number[];
  /** What went wrong with the others: status codes, errors, time-outs. */
  failures: string[];
}

function getOnce(url: string, agent: http.Agent, token: string, timeoutMs: number) {
  return new Promise<{ ms: number } | { failure: string }>((resolve) => {
    const started = performance.now();
    const request = http.get(
      url,
      { agent, headers: { authorization: `Bearer ${token}` }, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve(
            response.statusCode === 200
              ? { ms: performance.now() - started }
              : { failure: `HTTP ${response.statusCode}` },
          ),
        );
        response.on('error', (err) => resolve({ failure: err.message }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (err) => resolve({ failure: err.message }));
  });
}

/**
 * GET `url` at a fixed rate over keep-alive connections of its own, as a dashboard polling the API
 * would. A slow answer never delays the next request (each has its own connection when needed),
 * so a stall of the server shows in the figures instead of thinning the samples.
 */
export async function probeGets(url: string, options: ProbeOptions): Promise<ProbeResult> {
  const agent = new http.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pending: Promise<{ ms: number } | { failure: string }>[] = [];
  const start = performance.now();
  try {
    for (let i = 0; i < options.count; i++) {
      const due = start + i * options.intervalMs - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      pending.push(getOnce(url, agent, options.token, timeoutMs));
    }
    const results = await Promise.all(pending);
    return {
      latenciesMs: results.flatMap((r) => ('ms' in r ? [r.ms] : [])),
      failures: results.flatMap((r) => ('failure' in r ? [r.failure] : [])),
    };
  } finally {
    agent.destroy();
  }
}
