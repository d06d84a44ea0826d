/**
 * Live Bifrost: messages as they arrive, newest first, filtered by lowest level, origin, kind and
 * text; pause freezes the view while messages keep arriving (they show on resume); a message's
 * data opens in place. Gap notices (a reconnect that lost messages, a daemon restart) stand above
 * the list until dismissed, and a marker in the list shows where the gap is.
 */
import { Component } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Time } from '../components';
import { json, num } from '../format';
import { originOf, type Entry, type MessageStore } from '../store';
import type { StreamStatus } from '../sse';
import type { BifrostMessage, Kind, Level } from '../types';

const LEVELS: Level[] = ['info', 'success', 'warning', 'error'];
const RANK: Record<Level, number> = { info: 0, success: 1, warning: 2, error: 3 };
const KINDS: Kind[] = ['notification', 'message', 'broadcast', 'confirmation_request', 'confirmation_result'];
const KIND_LABEL: Record<Kind, string> = {
  notification: 'notification', message: 'message', broadcast: 'broadcast', confirmation_request: 'approval request', confirmation_result: 'approval result',
};
/** Rows drawn at most; the rest stay in the page's buffer and show as filters narrow. */
const MAX_ROWS = 200;

interface Filters {
  level: '' | Level;
  origin: string;
  kind: '' | Kind;
  text: string;
}

interface Frozen {
  entries: Entry[];
  received: number;
  evicted: number;
}

/** Kept across pane switches. */
const state: { filters: Filters; frozen: Frozen | undefined } = { filters: { level: '', origin: '', kind: '', text: '' }, frozen: undefined };

function matches(m: BifrostMessage, f: Filters, text: string): boolean {
  if (f.level && RANK[m.level] < RANK[f.level]) return false;
  if (f.origin && originOf(m) !== f.origin) return false;
  if (f.kind && m.kind !== f.kind) return false;
  if (text && !`${m.title ?? ''}\n${m.message}`.toLowerCase().includes(text)) return false;
  return true;
}

function select(entries: Entry[], from: number, f: Filters): { rows: Entry[]; matching: number } {
  const text = f.text.trim().toLowerCase();
  const rows: Entry[] = [];
  let matching = 0;
  const any = f.level !== '' || f.origin !== '' || f.kind !== '' || text !== '';
  for (let i = entries.length - 1; i >= from; i--) {
    const e = entries[i]!;
    if (e.type === 'gap') {
      if (rows.length < MAX_ROWS) rows.push(e);
      continue;
    }
    if (any && !matches(e.m, f, text)) continue;
    matching++;
    if (rows.length < MAX_ROWS) rows.push(e);
    else if (!any) {
      // Without filters every remaining message matches: count them without looking.
      matching += i - from;
      break;
    }
  }
  return { rows, matching };
}

function DataView({ data }: { data: Record<string, unknown> }) {
  const [open, setOpen] = useState(false);
  return (
    <details class="json" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Data</summary>
      {open ? <pre>{json(data)}</pre> : null}
    </details>
  );
}

/**
 * One message or gap marker. Entries never change, so a row renders once: the pane re-renders a
 * few times a second while messages arrive, and only the new rows cost anything.
 */
class Row extends Component<{ e: Entry }> {
  override shouldComponentUpdate(next: { e: Entry }): boolean {
    return next.e !== this.props.e;
  }

  override render() {
    return <RowView e={this.props.e} />;
  }
}

function RowView({ e }: { e: Entry }) {
  if (e.type === 'gap') {
    return (
      <li class="gap-row" role="note">
        <strong>{e.restart ? 'Daemon restarted' : 'Messages missed'}</strong> <Time at={e.at} />: {e.gap.message}
      </li>
    );
  }
  const m = e.m;
  return (
    <li class={`msg lvl-${m.level}`}>
      <div class="msg-head">
        <Time at={m.timestamp} />
        <span class={`lvl lvl-${m.level}`}>{m.level}</span>
        <span class="kind">{KIND_LABEL[m.kind] ?? m.kind}</span>
        <span class="origin">{originOf(m)}</span>
        <span class="msg-id">#{m.id}</span>
      </div>
      <p class="msg-text">
        {m.title ? <><span class="msg-title">{m.title}</span>{' '}</> : null}
        <span class="msg-body">{m.message}</span>
        {m.kind === 'confirmation_request' ? <> <a href="#/approvals">Answer in Approvals</a></> : null}
      </p>
      {m.data && Object.keys(m.data).length > 0 ? <DataView data={m.data} /> : null}
    </li>
  );
}

export function LivePane({ store }: { store: MessageStore }) {
  const [, setVersion] = useState(store.version);
  const [filters, setFiltersState] = useState<Filters>(state.filters);
  const [frozen, setFrozen] = useState<Frozen | undefined>(state.frozen);
  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);

  const setFilters = (f: Partial<Filters>) => {
    state.filters = { ...state.filters, ...f };
    setFiltersState(state.filters);
  };
  const pause = () => {
    state.frozen = { entries: store.entries.slice(Math.max(0, store.entries.length - store.capacity)), received: store.received, evicted: store.evicted };
    setFrozen(state.frozen);
  };
  const resume = () => {
    state.frozen = undefined;
    setFrozen(undefined);
  };

  const source = frozen ? frozen.entries : store.entries;
  const from = frozen ? 0 : Math.max(0, store.entries.length - store.capacity);
  const { rows, matching } = select(source, from, filters);
  const waiting = frozen ? store.received - frozen.received : 0;
  const lostWhilePaused = frozen ? Math.max(0, store.evicted - frozen.evicted - frozen.entries.length) : 0;
  const origins = [...store.origins].sort();
  const inPage = Math.min(store.entries.length, store.capacity);

  return (
    <div class="pane" aria-labelledby="live-title">
      <div class="pane-head">
        <h2 id="live-title">Live Bifrost</h2>
      </div>
      {store.notices.map((n) => (
        <div class={`notice ${n.restart ? 'notice-restart' : 'notice-gap'}`} role="alert" key={n.key} data-testid="gap-notice">
          <div>
            <strong>{n.restart ? 'The daemon restarted' : 'Messages were missed'}</strong> (<Time at={n.at} />): {n.gap.message}
            {n.gap.missed !== null ? ` ${num(n.gap.missed)} messages are not in the replay buffer.` : ''}
          </div>
          <button type="button" onClick={() => store.dismiss(n.key)}>Dismiss</button>
        </div>
      ))}
      <form class="filters" role="search" aria-label="Filter messages" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="f-level">Lowest level</label>
          <select id="f-level" value={filters.level} onChange={(e) => setFilters({ level: (e.currentTarget as HTMLSelectElement).value as Filters['level'] })}>
            <option value="">all</option>
            {LEVELS.map((l) => <option value={l} key={l}>{l}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="f-origin">From</label>
          <select id="f-origin" value={filters.origin} onChange={(e) => setFilters({ origin: (e.currentTarget as HTMLSelectElement).value })}>
            <option value="">everyone</option>
            {origins.map((o) => <option value={o} key={o}>{o}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="f-kind">Kind</label>
          <select id="f-kind" value={filters.kind} onChange={(e) => setFilters({ kind: (e.currentTarget as HTMLSelectElement).value as Filters['kind'] })}>
            <option value="">all</option>
            {KINDS.map((k) => <option value={k} key={k}>{KIND_LABEL[k]}</option>)}
          </select>
        </div>
        <div class="field grow">
          <label for="f-text">Text</label>
          <input id="f-text" type="search" value={filters.text} placeholder="title or message contains…" onInput={(e) => setFilters({ text: (e.currentTarget as HTMLInputElement).value })} />
        </div>
        {frozen
          ? <button type="button" class="primary" aria-pressed="true" onClick={resume}>Resume ({num(waiting)} new)</button>
          : <button type="button" aria-pressed="false" onClick={pause}>Pause</button>}
      </form>
      <p class="counts">
        {frozen ? <strong>Paused: {num(waiting)} new messages wait and show on resume. </strong> : null}
        {lostWhilePaused > 0 ? <strong class="warn-text">{num(lostWhilePaused)} of them already left the page's buffer of {num(store.capacity)}. </strong> : null}
        Showing {num(rows.filter((r) => r.type === 'message').length)} of {num(matching)} matching · {num(inPage)} kept in the page · {num(store.received)} received since it opened
      </p>
      {rows.length === 0
        ? <p class="empty">{store.received === 0 ? 'No messages yet. They appear here as plugins and the daemon publish them.' : 'No message matches the filters.'}</p>
        : <ol class="messages" aria-label="Messages, newest first">{rows.map((e) => <Row e={e} key={e.key} />)}</ol>}
    </div>
  );
}

export function StreamLine({ stream, onReconnect }: { stream: StreamStatus; onReconnect: () => void }) {
  const label = stream.state === 'open' ? 'Live' : stream.state === 'connecting' ? 'Connecting…' : stream.state === 'reconnecting' ? 'Reconnecting…' : 'Stopped';
  return (
    <div class="stream-line">
      <span class={`badge tone-${stream.state === 'open' ? 'ok' : stream.state === 'reconnecting' ? 'warn' : 'info'}`} data-testid="stream-state">{label}</span>
      {stream.state !== 'open' && stream.detail ? <span class="muted"> {stream.detail}</span> : null}
      {stream.state === 'reconnecting' ? <button type="button" class="link" onClick={onReconnect}>Reconnect now</button> : null}
    </div>
  );
}
