/**
 * The console: finds out whether the daemon wants a token (a 401 from GET /v1/status), asks for
 * it once when it does, then opens the Bifrost stream and shows the panes. Nothing is fetched
 * before the daemon has accepted the page; a 401 later (the token changed) brings the prompt back.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, getToken, onUnauthorized, setToken } from './api';
import { ErrorLine } from './components';
import { usePoll } from './hooks';
import { ApprovalsPane } from './panes/approvals';
import { InvocationsPane } from './panes/invocations';
import { LivePane, StreamLine } from './panes/live';
import { PluginsPane } from './panes/plugins';
import { RulesPane } from './panes/rules';
import { SourcesPane } from './panes/sources';
import { BifrostStream, type StreamStatus } from './sse';
import { MessageStore } from './store';
import type { ConfirmationInfo, DaemonStatus } from './types';

const PANES = [
  { id: 'live', label: 'Live' },
  { id: 'plugins', label: 'Plugins and queues' },
  { id: 'approvals', label: 'Approvals' },
  { id: 'invocations', label: 'Invocations' },
  { id: 'sources', label: 'Sources and database' },
  { id: 'rules', label: 'Rules' },
] as const;
type PaneId = (typeof PANES)[number]['id'];

function paneOf(hash: string): PaneId {
  const id = hash.replace(/^#\/?/, '');
  return (PANES.find((p) => p.id === id)?.id ?? 'live');
}

type Auth =
  | { kind: 'checking' }
  | { kind: 'ok' }
  | { kind: 'token'; refused: boolean }
  | { kind: 'unreachable'; message: string };

/** How many messages the first connection asks the daemon to replay. */
const INITIAL_REPLAY = 500;

function TokenPrompt({ refused, onAccepted }: { refused: boolean; onAccepted: () => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | undefined>(refused ? 'The daemon refused the token this tab had; type the current one.' : undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = value.trim();
    if (t === '') return;
    setBusy(true);
    setError(undefined);
    try {
      await api('/v1/status', { token: t, quiet401: true });
      setToken(t);
      onAccepted();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not the daemon\'s server.token.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="token-page">
      <form class="card token-form" onSubmit={(e) => void submit(e)} aria-labelledby="token-title" data-testid="token-prompt">
        <h2 id="token-title">This daemon needs a token</h2>
        <p>Type the daemon's <code>server.token</code>. It is kept in this tab only (sessionStorage) and sent as a bearer header; it never goes into a URL.</p>
        <label for="token">Token</label>
        <input id="token" type="password" autoComplete="current-password" value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} required autoFocus />
        <div class="buttons"><button type="submit" class="primary" disabled={busy}>Open the console</button></div>
        {error ? <p class="error" role="alert">{error}</p> : null}
      </form>
    </main>
  );
}

function Console({ onSignOut }: { onSignOut: (() => void) | undefined }) {
  const [pane, setPane] = useState<PaneId>(paneOf(location.hash));
  const store = useMemo(() => new MessageStore(), []);
  const [stream, setStream] = useState<StreamStatus>({ state: 'connecting' });
  const [bifrost, setBifrost] = useState<BifrostStream | undefined>(undefined);
  const status = usePoll((signal) => api<DaemonStatus>('/v1/status', { signal }), 2000);
  const confirmations = usePoll((signal) => api<{ confirmations: ConfirmationInfo[] }>('/v1/confirmations', { signal }), 3000);

  useEffect(() => {
    const onHash = () => setPane(paneOf(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const s = new BifrostStream({
      onMessages: (batch, epoch) => store.add(batch, epoch),
      onGap: (gap, info) => store.addGap(gap, info.restart, info.at),
      onStatus: setStream,
    }, { last: INITIAL_REPLAY });
    s.start();
    setBifrost(s);
    return () => s.stop();
  }, [store]);

  // Requests and answers show up on Bifrost first: fetch the pending list then.
  const refreshConfirmations = confirmations.refresh;
  useEffect(() => store.tap((batch) => {
    if (batch.some((m) => m.kind === 'confirmation_request' || m.kind === 'confirmation_result')) refreshConfirmations();
  }), [store, refreshConfirmations]);

  // After a reconnect the daemon may be a new run: fetch everything again.
  useEffect(() => {
    if (stream.state === 'open') {
      status.refresh();
      refreshConfirmations();
    }
  }, [stream.state, stream.epoch]);

  const pending = confirmations.data?.confirmations;
  const s = status.data;
  const dbDown = s?.database.configured && !s.database.connected;
  const failing = s?.plugins.filter((p) => p.state === 'failed' || p.state === 'restarting').length ?? 0;

  return (
    <>
      <header class="top">
        <div class="brand">
          <h1>Heimdall</h1>
          {s ? <span class="muted small">{s.version} · {s.state}</span> : null}
        </div>
        <StreamLine stream={stream} onReconnect={() => bifrost?.reconnectNow()} />
        <div class="top-facts" aria-label="Summary">
          {s ? <span class={dbDown ? 'badge tone-bad' : 'badge tone-muted'}>{!s.database.configured ? 'no database' : dbDown ? 'database down' : 'database up'}</span> : null}
          {failing > 0 ? <span class="badge tone-bad">{failing} plugin{failing === 1 ? '' : 's'} failing</span> : null}
          {onSignOut ? <button type="button" class="link" onClick={onSignOut}>Forget token</button> : null}
        </div>
      </header>
      <nav class="tabs" aria-label="Panes">
        {PANES.map((p) => (
          <a key={p.id} href={`#/${p.id}`} aria-current={pane === p.id ? 'page' : undefined} class={pane === p.id ? 'current' : ''}>
            {p.label}
            {p.id === 'approvals' && pending && pending.length > 0 ? <span class="count" aria-label={`${pending.length} pending`}>{pending.length}</span> : null}
          </a>
        ))}
      </nav>
      <main id="main">
        {pane === 'live' ? <LivePane store={store} /> : null}
        {pane === 'plugins' ? <PluginsPane plugins={s?.plugins} error={status.error} /> : null}
        {pane === 'approvals' ? <ApprovalsPane pending={pending} error={confirmations.error} refresh={refreshConfirmations} store={store} /> : null}
        {pane === 'invocations' ? <InvocationsPane store={store} llm={s?.llm.configured ?? false} /> : null}
        {pane === 'sources' ? <SourcesPane status={s} error={status.error} /> : null}
        {pane === 'rules' ? <RulesPane status={s ? (s.rules ?? null) : undefined} /> : null}
      </main>
    </>
  );
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'checking' });
  const [usedToken, setUsedToken] = useState(getToken() !== undefined);

  const check = async () => {
    try {
      await api('/v1/status', { quiet401: true });
      setUsedToken(getToken() !== undefined);
      setAuth({ kind: 'ok' });
    } catch (err) {
      const e = err as ApiError;
      if (e.status === 401) {
        const had = getToken() !== undefined;
        setToken(undefined);
        setAuth({ kind: 'token', refused: had });
      } else {
        setAuth({ kind: 'unreachable', message: e.message });
      }
    }
  };

  useEffect(() => {
    void check();
    return onUnauthorized(() => {
      const had = getToken() !== undefined;
      setToken(undefined);
      setAuth({ kind: 'token', refused: had });
    });
  }, []);

  useEffect(() => {
    if (auth.kind !== 'unreachable') return;
    const t = setTimeout(() => void check(), 2000);
    return () => clearTimeout(t);
  }, [auth]);

  if (auth.kind === 'checking') return <main id="main" class="token-page"><p class="muted">Connecting to the daemon…</p></main>;
  if (auth.kind === 'token') return <TokenPrompt refused={auth.refused} onAccepted={() => void check()} />;
  if (auth.kind === 'unreachable') {
    return (
      <main id="main" class="token-page">
        <div class="card">
          <h2>The daemon cannot be reached</h2>
          <ErrorLine error={new Error(auth.message)} />
          <p class="muted">Trying again every 2 s.</p>
        </div>
      </main>
    );
  }
  return (
    <Console onSignOut={usedToken ? () => {
      setToken(undefined);
      setAuth({ kind: 'token', refused: false });
    } : undefined} />
  );
}
