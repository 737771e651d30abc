import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, type RunInfo } from './api.js';

/** A table's header row: one column heading per name. */
export function ColumnHeads({ names }: { names: readonly string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th key={name} scope="col">
            {name}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** The status word in a coloured badge (the word carries the meaning; colour only helps). */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{status}</span>;
}

/** processed/total or percent, as a bar and as text; the message beside it. */
export function Progress({ progress, label }: { progress: RunInfo['progress']; label: string }) {
  if (!progress) return <span class="muted">—</span>;
  const { processed, total, percent, message } = progress;
  const text =
    processed !== null && total !== null
      ? `${processed}/${total}`
      : percent !== null
        ? `${Math.round(percent)} %`
        : processed !== null
          ? String(processed)
          : '';
  return (
    <span class="progress">
      {percent !== null ? (
        <progress max={100} value={percent} aria-label={label} />
      ) : (
        <progress aria-label={label} />
      )}
      <span class="progress-text">{text}</span>
      {message ? <span class="progress-message">{message}</span> : null}
    </span>
  );
}

/** A value as indented JSON, folded under its title. */
export function JsonBlock({
  title,
  value,
  open,
}: {
  title: string;
  value: unknown;
  open?: boolean;
}) {
  return (
    <details class="json" open={open}>
      <summary>{title}</summary>
      {/* Focusable so the keyboard can scroll it; a region, so it has a name. */}
      <pre tabIndex={0} role="region" aria-label={title}>
        {value === undefined ? 'null' : JSON.stringify(value, null, 2)}
      </pre>
    </details>
  );
}

/** An error shown where it happened (never an alert box); `id` lets a control point to it. */
export function ErrorNote({ error, id }: { error: string | null; id?: string }) {
  return error ? (
    <p class="error" role="alert" id={id}>
      {error}
    </p>
  ) : null;
}

/** Label/value pairs, as a definition list. */
export function Facts({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A job's description: paragraphs, `code` and **bold** rendered, never raw markup. */
export function Description({ text }: { text: string }) {
  if (!text) return null;
  return (
    <div class="description">
      {text.split(/\n{2,}/).map((paragraph, p) => (
        <p key={p}>
          {paragraph
            .split(/(`[^`]+`|\*\*[^*]+\*\*)/)
            .map((part, i) =>
              part.startsWith('`') && part.endsWith('`') && part.length > 1 ? (
                <code key={i}>{part.slice(1, -1)}</code>
              ) : part.startsWith('**') && part.endsWith('**') && part.length > 3 ? (
                <strong key={i}>{part.slice(2, -2)}</strong>
              ) : (
                part
              ),
            )}
        </p>
      ))}
    </div>
  );
}

export type StopMode = 'graceful' | 'force';
const MODE_WORD: Record<StopMode, string> = { graceful: 'gracefully', force: 'immediately' };

/**
 * The stop confirmation, for one run or several: the mode, what it does, a `Reason`, then `Stop
 * run`. `onConfirm` does the stopping; what it throws is shown in the dialog, which stays open.
 */
export function StopDialog(props: {
  mode: StopMode;
  /** The modes to choose from; with one, no choice is offered. */
  modes?: readonly StopMode[];
  /** How many runs it stops (the title says so when more than one). */
  count?: number;
  /** No handler runs (paused, waiting for child runs): the stop cancels at once in either mode. */
  idle?: boolean;
  /** More the stop does (it reaches the run's child runs too). */
  note?: string;
  onConfirm: (options: { mode: StopMode; reason?: string }) => Promise<void>;
  onClose: () => void;
}) {
  const { modes = ['graceful', 'force'], count = 1, onConfirm, onClose } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const [mode, setMode] = useState(props.mode);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onConfirm({ mode, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      // close() gives the focus back to the button that opened the dialog.
      dialog.current?.close();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  const runs = count === 1 ? '' : ` ${count} runs`;
  return (
    <dialog ref={dialog} aria-labelledby="stop-title" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <h2 id="stop-title">{`Stop${runs} ${MODE_WORD[mode]}?`}</h2>
        {modes.length > 1 ? (
          <fieldset class="modes">
            <legend>Mode</legend>
            {modes.map((m) => (
              <label key={m} class="inline">
                <input
                  type="radio"
                  name="stop-mode"
                  value={m}
                  checked={mode === m}
                  onChange={() => setMode(m)}
                />
                {MODE_WORD[m][0]!.toUpperCase() + MODE_WORD[m].slice(1)}
              </label>
            ))}
          </fieldset>
        ) : null}
        <p>
          {props.idle
            ? 'No handler is running: the run is cancelled at once.'
            : mode === 'force'
              ? 'The handler is aborted now; its cleanups still run.'
              : 'The handler stops at its next checkpoint; the current step finishes first.'}
        </p>
        {props.note ? <p>{props.note}</p> : null}
        <label for="stop-reason">Reason</label>
        <textarea
          id="stop-reason"
          rows={3}
          maxLength={1000}
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
        <ErrorNote error={error} />
        <div class="dialog-buttons">
          <button type="button" onClick={() => dialog.current?.close()}>
            Keep running
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {count === 1 ? 'Stop run' : 'Stop runs'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
