import type { ComponentChildren } from 'preact';
import type { RunInfo } from './api.js';

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
      <pre tabIndex={0}>{value === undefined ? 'null' : JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

/** An error shown where it happened (never an alert box). */
export function ErrorNote({ error }: { error: string | null }) {
  return error ? (
    <p class="error" role="alert">
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
