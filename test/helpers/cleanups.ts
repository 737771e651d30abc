import { afterEach } from 'vitest';

/**
 * The clean-ups a test registers as it opens things (stores, instances, clients, servers), run
 * after each test, newest first. Call once at the top level of a test file (or of a describe); it returns `defer`.
 */
export function cleanupAfterEach(): (cleanup: () => unknown) => void {
  let cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    const due = cleanups.reverse();
    cleanups = [];
    for (const cleanup of due) await cleanup();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}
