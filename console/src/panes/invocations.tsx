/**
 * Invocations: the recent async invocations and their results (GET /v1/invocations, every 3 s
 * and at once when Bifrost reports one), and two forms that queue a new one through
 * POST /v1/invocations: run an action (from GET /v1/actions) with JSON parameters, or ask the
 * model a prompt. Nothing here can do more than the API allows the token.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, post } from '../api';
import { ErrorLine, JsonDetails, Section, StateBadge, Time } from '../components';
import { duration } from '../format';
import { usePoll } from '../hooks';
import type { MessageStore } from '../store';
import type { ActionInfo, InvocationRecord } from '../types';

function who(t: InvocationRecord['trigger']): string {
  if (t.kind === 'plugin') return `plugin ${t.plugin ?? ''}`.trim();
  return t.kind;
}

function InvocationRow({ r }: { r: InvocationRecord }) {
  return (
    <tr data-invocation={r.id}>
      <th scope="row" data-label="Invocation">
        <div>{r.kind === 'action' ? r.name : r.kind === 'prompt' ? 'prompt' : 'raw prompt'}</div>
        <code class="muted small">{r.id}</code>
      </th>
      <td data-label="Status">
        <StateBadge state={r.status === 'running' ? 'running_inv' : r.status} label={r.status} />
        {r.status === 'succeeded' && r.result && !r.result.success ? <div class="muted small">the action said no</div> : null}
      </td>
      <td data-label="Asked by">{who(r.trigger)}</td>
      <td data-label="Submitted" class="nowrap"><Time at={r.submittedAt} /></td>
      <td data-label="Took" class="r nowrap">{duration(r.durationMs)}</td>
      <td data-label="Result" class="wrap">
        {r.rejectedBecause ? <span class="warn-text">Refused: {r.rejectedBecause.replace(/_/g, ' ')}. </span> : null}
        {r.result ? <span>{r.result.message}</span> : r.status === 'queued' || r.status === 'running' ? <span class="muted">waiting…</span> : null}
        {r.prompt ? <JsonDetails summary="Prompt" value={r.prompt} /> : null}
        {r.params && Object.keys(r.params).length > 0 ? <JsonDetails summary="Params" value={r.params} /> : null}
        {r.result?.data ? <JsonDetails summary="Result data" value={r.result.data} /> : null}
      </td>
    </tr>
  );
}

function RunAction({ onQueued }: { onQueued: (id: string) => void }) {
  const actions = usePoll((signal) => api<{ actions: ActionInfo[] }>('/v1/actions', { signal }), 30_000);
  const [name, setName] = useState('');
  const [params, setParams] = useState('{}');
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const list = actions.data?.actions ?? [];
  const chosen = list.find((a) => a.name === name);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    let parsed: unknown;
    try {
      parsed = params.trim() === '' ? {} : JSON.parse(params);
    } catch (err) {
      setError(new Error(`The parameters are not valid JSON: ${(err as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      const r = await post<{ invocationId: string }>('/v1/invocations', { kind: 'action', name, params: parsed });
      onQueued(r.invocationId);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} class="form">
      <div class="field">
        <label for="run-action">Action</label>
        <select id="run-action" value={name} required onChange={(e) => setName((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">choose an action…</option>
          {list.map((a) => <option value={a.name} key={a.name}>{a.name}{a.destructive ? ' (destructive)' : ''}</option>)}
        </select>
      </div>
      {chosen ? <p class="muted small">{chosen.description}{chosen.destructive ? ' It is destructive: the remediation policy may ask for an approval.' : ''}</p> : null}
      {chosen ? <JsonDetails summary="Parameter schema" value={chosen.params} /> : null}
      <div class="field">
        <label for="run-params">Parameters (JSON)</label>
        <textarea id="run-params" rows={4} class="mono" value={params} onInput={(e) => setParams((e.currentTarget as HTMLTextAreaElement).value)} spellcheck={false} />
      </div>
      <div class="buttons"><button type="submit" class="primary" disabled={busy || name === ''}>Run</button></div>
      <ErrorLine error={error} what="Not queued" />
      <ErrorLine error={actions.error} what="Actions" />
    </form>
  );
}

function AskModel({ onQueued, llm }: { onQueued: (id: string) => void; llm: boolean }) {
  const [prompt, setPrompt] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const r = await post<{ invocationId: string }>('/v1/invocations', { kind: 'prompt', prompt });
      onQueued(r.invocationId);
      setPrompt('');
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} class="form">
      {!llm ? <p class="muted small">No model is configured (the llm: section of heimdall.config.yaml); a prompt will be refused.</p> : null}
      <div class="field">
        <label for="ask-prompt">Prompt</label>
        <textarea id="ask-prompt" rows={3} value={prompt} required onInput={(e) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)} />
      </div>
      <div class="buttons"><button type="submit" class="primary" disabled={busy || prompt.trim() === ''}>Ask</button></div>
      <ErrorLine error={error} what="Not queued" />
    </form>
  );
}

export function InvocationsPane({ store, llm }: { store: MessageStore; llm: boolean }) {
  const list = usePoll((signal) => api<{ invocations: InvocationRecord[] }>('/v1/invocations?limit=50', { signal }), 3000);
  const [queued, setQueued] = useState<string | undefined>(undefined);
  const { refresh } = list;
  // An invocation's result is published on Bifrost with data.invocationId: fetch the list then
  // (at most twice a second) instead of waiting for the next poll.
  useEffect(() => {
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = store.tap((batch) => {
      if (timer || !batch.some((m) => m.data?.invocationId !== undefined)) return;
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        refresh();
      }, Math.max(0, last + 500 - Date.now()));
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [store, refresh]);
  const onQueued = (id: string) => {
    setQueued(id);
    refresh();
  };
  const rows = list.data?.invocations ?? [];
  return (
    <div class="pane">
      <div class="pane-head"><h2>Invocations</h2></div>
      <div class="two">
        <Section title="Run an action" id="inv-action"><RunAction onQueued={onQueued} /></Section>
        <Section title="Ask the model" id="inv-prompt"><AskModel onQueued={onQueued} llm={llm} /></Section>
      </div>
      <p aria-live="polite" class="muted">{queued ? `Queued as ${queued}; its result appears below.` : ''}</p>
      <Section title="Recent invocations" id="inv-list">
        <ErrorLine error={list.error} what="Invocations" />
        {list.data === undefined ? <p class="muted">Loading…</p> : rows.length === 0 ? <p class="empty">No async invocation yet.</p> : (
          <div class="table-wrap">
            <table class="stack">
              <caption class="sr-only">Recent invocations, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Invocation</th>
                  <th scope="col">Status</th>
                  <th scope="col">Asked by</th>
                  <th scope="col">Submitted</th>
                  <th scope="col" class="r">Took</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>{rows.map((r) => <InvocationRow r={r} key={r.id} />)}</tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}
