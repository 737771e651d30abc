/**
 * Call `check` until it returns a value other than undefined/false, or fail after `timeoutMs`
 * with the last value seen. Tests wait with this or with events, never with bare sleeps.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    last = await check();
    if (last !== undefined && last !== false) return last as T;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${options.what ?? 'condition'} (last: ${JSON.stringify(last)})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}

/**
 * The deadline of a wait for something that takes a second or two when the machine is idle:
 * generous, so a loaded machine only makes a test slower, never red.
 */
export const EVENT_DEADLINE_MS = 60_000;
