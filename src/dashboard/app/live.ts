import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText, type LogInfo, type RunDetailInfo, type RunInfo } from './api.js';

/** One event of GET /api/events, by name; `reset` means: reload what you show. */
export type LiveEvent =
  | { name: 'reset' }
  | { name: 'run.log'; runId: string; entry: LogInfo }
  | { name: 'run.step'; runId: string; step: RunDetailInfo['steps'][number] }
  | { name: 'job.updated'; job: { name: string; enabled: boolean } }
  | { name: string; run: RunInfo };

type Listener = (event: LiveEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | null = null;

/**
 * One event stream for the whole app, opened on first use. EventSource reconnects by itself with
 * Last-Event-ID, so nothing is missed; the server sends `reset` when it cannot resume.
 */
function open(): void {
  if (source) return;
  source = new EventSource('/api/events');
  const names = (
    document.querySelector<HTMLMetaElement>('meta[name="jobdeck-events"]')?.content ?? ''
  )
    .split(',')
    .filter(Boolean);
  for (const name of names) {
    source.addEventListener(name, (message) => {
      const data = JSON.parse((message as MessageEvent<string>).data) as object;
      emit({ name, ...data } as LiveEvent);
    });
  }
  source.addEventListener('reset', () => emit({ name: 'reset' }));
  // A page read what it shows before the stream first opened: what changed between is read again.
  // Later openings resume with Last-Event-ID.
  let opened = false;
  source.addEventListener('open', () => {
    if (!opened) emit({ name: 'reset' });
    opened = true;
  });
  // The session ended (signed out elsewhere, expired): show the sign-in page.
  source.addEventListener('signed-out', () => location.reload());
}

function emit(event: LiveEvent): void {
  for (const listener of [...listeners]) listener(event);
}

/** Closes the stream (sign-out), so no request outlives the session. */
export function closeEvents(): void {
  source?.close();
  source = null;
}

/** Calls `handler` with every live event while the component is mounted. */
export function useLiveEvents(handler: Listener): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    open();
    const listener: Listener = (event) => latest.current(event);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
}

/** The run an event is about, if any. */
export function eventRun(event: LiveEvent): RunInfo | null {
  return 'run' in event ? event.run : null;
}

/**
 * `action` at most once per `ms`: the calls of a burst fold into one, made `ms` after the first
 * (many events, one reload). A call still waiting when the component unmounts is dropped.
 */
export function useThrottled(action: () => void, ms: number): () => void {
  const latest = useRef(action);
  latest.current = action;
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  }, [ms]);
}

/**
 * What `read` answers, read now and every `everyMs` while mounted, for lists that change without
 * feed events (instances beat, deliveries retry); `reload` reads it again at once.
 */
export function usePolled<T>(
  read: () => Promise<T>,
  everyMs: number,
): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(read);
  latest.current = read;
  const reload = useCallback(() => {
    latest.current().then(
      (value) => {
        setData(value);
        setError(null);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, []);
  useEffect(() => {
    reload();
    const timer = setInterval(reload, everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return { data, error, reload };
}
