/**
 * Approvals: the pending confirmation requests (GET /v1/confirmations), each with what would run
 * (the statement, its parameters, counters or a sample, whatever the asker sent as details), who
 * asked and the deadline; Approve or Deny with a reason (POST /v1/confirmations/{id}), and the
 * result. Below, the latest results seen on Bifrost, answered here or elsewhere (the CLI).
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, enc, post } from '../api';
import { ErrorLine, Facts, Section, StateBadge, Time } from '../components';
import { json, relative } from '../format';
import { useNow } from '../hooks';
import type { MessageStore } from '../store';
import type { ConfirmationInfo } from '../types';

const CODE_KEYS = new Set(['statement', 'cypher', 'query']);

function isPrimitive(v: unknown): v is string | number | boolean | null {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

/** The details a requester sent: code first, then plain facts, then structured parts. */
export function Details({ details }: { details: Record<string, unknown> }) {
  const entries = Object.entries(details);
  if (entries.length === 0) return <p class="muted">The request carries no details.</p>;
  const code = entries.filter(([k, v]) => CODE_KEYS.has(k) && typeof v === 'string');
  const facts = entries.filter(([k, v]) => !CODE_KEYS.has(k) && isPrimitive(v));
  const parts = entries.filter(([k, v]) => !(CODE_KEYS.has(k) && typeof v === 'string') && !isPrimitive(v));
  return (
    <div class="details">
      {code.map(([k, v]) => (
        <div key={k}>
          <h4>{k}</h4>
          <pre class="code">{String(v)}</pre>
        </div>
      ))}
      {facts.length > 0 ? <Facts items={facts.map(([k, v]) => [k, v === null ? 'none' : String(v)])} /> : null}
      {parts.map(([k, v]) => (
        <div key={k}>
          <h4>{k}</h4>
          <pre>{json(v)}</pre>
        </div>
      ))}
    </div>
  );
}

function Request({ c, onAnswered }: { c: ConfirmationInfo; onAnswered: (r: ConfirmationInfo) => void }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const now = useNow(1000);
  const answer = async (approve: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await post<ConfirmationInfo>(`/v1/confirmations/${enc(c.id)}`, { approve, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      onAnswered(r);
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  };
  const late = new Date(c.deadline).getTime() <= now;
  const reasonId = `reason-${c.id}`;
  return (
    <article class="card request" aria-labelledby={`req-${c.id}`} data-confirmation={c.id}>
      <h3 id={`req-${c.id}`}>{c.action}</h3>
      <Facts items={[
        ['Asked by', c.requestedBy === 'heimdall' ? 'Heimdall (remediation)' : `the plugin ${c.requestedBy}`],
        ['Asked at', <Time at={c.requestedAt} />],
        ['Deadline', <span><Time at={c.deadline} /> ({late ? 'passed; it is denied' : relative(c.deadline, now)})</span>],
        ...(c.invocationId ? [['Invocation', <code>{c.invocationId}</code>] as [string, ComponentChildren]] : []),
        ['Id', <code>{c.id}</code>],
      ]} />
      <Details details={c.details} />
      <div class="answer">
        <label for={reasonId}>Reason <span class="muted small">(optional; the plugin and Bifrost get it with your answer)</span></label>
        <textarea id={reasonId} rows={2} maxLength={2000} value={reason} onInput={(e) => setReason((e.currentTarget as HTMLTextAreaElement).value)} />
        <div class="buttons">
          <button type="button" class="primary" disabled={busy} onClick={() => void answer(true)}>Approve</button>
          <button type="button" class="danger" disabled={busy} onClick={() => void answer(false)}>Deny</button>
        </div>
        <ErrorLine error={error} what="The answer was not taken" />
      </div>
    </article>
  );
}

export function ApprovalsPane({ pending, error, refresh, store }: { pending: ConfirmationInfo[] | undefined; error: ApiError | undefined; refresh: () => void; store: MessageStore }) {
  const [answered, setAnswered] = useState<ConfirmationInfo[]>([]);
  const onAnswered = (r: ConfirmationInfo) => {
    setAnswered((a) => [r, ...a].slice(0, 20));
    refresh();
  };
  const results = [];
  for (let i = store.entries.length - 1; i >= 0 && results.length < 20; i--) {
    const e = store.entries[i]!;
    if (e.type === 'message' && e.m.kind === 'confirmation_result') results.push(e.m);
  }
  const answeredIds = new Set(answered.map((a) => a.id));
  const open = (pending ?? []).filter((c) => !answeredIds.has(c.id));
  return (
    <div class="pane">
      <div class="pane-head"><h2>Approvals</h2></div>
      <ErrorLine error={error} what="Pending requests" />
      <div aria-live="polite" class="results-live">
        {answered.slice(0, 3).map((r) => (
          <p class={`result ${r.state === 'approved' ? 'ok' : 'bad'}`} key={r.id} data-testid="answer-result">
            <StateBadge state={r.state} /> You {r.state === 'approved' ? 'approved' : 'denied'} “{r.action}” from {r.requestedBy} ({r.id}) at <Time at={r.answeredAt ?? Date.now()} />
            {r.reason ? <>, saying: {r.reason}</> : null}
          </p>
        ))}
      </div>
      {pending === undefined ? <p class="muted">Loading…</p> : open.length === 0
        ? <p class="empty">Nothing waits for an approval.</p>
        : <div class="requests">{open.map((c) => <Request c={c} key={c.id} onAnswered={onAnswered} />)}</div>}
      <Section title="Recent results" id="approvals-results">
        {results.length === 0 ? <p class="muted">No request was answered since the page opened.</p> : (
          <ul class="plain">
            {results.map((m) => {
              const d = m.data ?? {};
              return (
                <li key={m.id}>
                  <StateBadge state={String(d.state ?? (d.approved ? 'approved' : 'denied'))} /> <Time at={m.timestamp} /> {m.message}
                </li>
              );
            })}
          </ul>
        )}
      </Section>
    </div>
  );
}
