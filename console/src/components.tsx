/** Small pieces the panes share. */
import type { ComponentChildren } from 'preact';
import type { ApiError } from './api';
import { dateTime, json, num, time } from './format';

/** A time in the browser's zone with its offset; the full date on hover and for machines. */
export function Time({ at, full = false }: { at: string | number; full?: boolean }) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return <span>–</span>;
  return (
    <time dateTime={d.toISOString()} title={dateTime(d)}>
      {full ? dateTime(d) : time(d)}
    </time>
  );
}

export function Num({ n, className }: { n: number | undefined; className?: string }) {
  return <span class={`num${className ? ` ${className}` : ''}`}>{num(n)}</span>;
}

const STATE_TONE: Record<string, string> = {
  running: 'ok', open: 'ok', connected: 'ok', up: 'ok', active: 'ok', approved: 'ok', succeeded: 'ok',
  starting: 'info', restarting: 'warn', draining: 'info', queued: 'info', pending: 'warn', degraded: 'warn', paused: 'warn', connecting: 'info', reconnecting: 'warn', running_inv: 'info',
  failed: 'bad', stopped: 'muted', disabled: 'muted', down: 'bad', denied: 'bad', expired: 'muted', cancelled: 'muted', rejected: 'bad',
};

/** A state as a coloured word (the word carries the meaning; the colour only helps). */
export function StateBadge({ state, label }: { state: string; label?: string }) {
  return <span class={`badge tone-${STATE_TONE[state] ?? 'info'}`}>{label ?? state}</span>;
}

/** JSON, expandable. */
export function JsonDetails({ value, summary = 'Data', open = false }: { value: unknown; summary?: string; open?: boolean }) {
  return (
    <details class="json" open={open}>
      <summary>{summary}</summary>
      <pre>{json(value)}</pre>
    </details>
  );
}

export function ErrorLine({ error, what }: { error: ApiError | Error | undefined; what?: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {what ? `${what}: ` : ''}
      {error.message}
    </p>
  );
}

export function Section({ title, id, children, actions }: { title: string; id: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby={id}>
      <div class="card-head">
        <h2 id={id}>{title}</h2>
        {actions ? <div class="card-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

/** Key → value pairs (a definition list). */
export function Facts({ items }: { items: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
