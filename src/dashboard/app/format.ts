/** A time as the reader's locale writes it; '—' for none. */
export function formatTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/** A window as people say it: 1 min, 30 s, 2 h, 250 ms (the largest whole unit). */
export function formatWindow(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}

/** A span of milliseconds, short: 850 ms, 12.3 s, 4 min 5 s, 2 h 10 min, 3 d 4 h. */
export function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * How long a run has been under way, from its first attempt's start to its end (or now): a run
 * that retried, paused or waited for child runs counts all of it. '—' before it started.
 */
export function runDuration(
  run: { startedAt: string | null; firstStartedAt?: string | null; finishedAt: string | null },
  now = Date.now(),
): string {
  const start = run.firstStartedAt ?? run.startedAt;
  if (!start) return '—';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return formatSpan(end - Date.parse(start));
}

/**
 * A run or worker id, short: its start and its end. The start alone is not enough: ids are
 * UUIDv7, whose first characters are the creation time, shared by everything made that minute.
 */
export const shortId = (id: string) => `${id.slice(0, 8)}…${id.slice(-4)}`;

/** A run's, attempt's or item's error on one line: `CODE: message`; nothing without one. */
export function errorLine(error: { code: string; message: string } | null | undefined): string {
  return error ? `${error.code}: ${error.message}` : '';
}
