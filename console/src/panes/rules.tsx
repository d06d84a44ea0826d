/**
 * Rules and dead letters, through the rules routes (daemon/http/routes-rules.ts):
 *
 *   GET  /v1/rules                      the rules with state and counts, and the invalid ones (every 3 s)
 *   POST /v1/rules/{name}/pause|resume  → { name, state, changed, message }
 *   POST /v1/rules/{name}/test          { event } → the dry run: matched, reasons, gates, wouldFire, actions
 *   GET  /v1/rules/{name}/history       the selected rule's recent firings
 *   GET  /v1/dead-letters?rule=&limit=  and POST /v1/dead-letters/{id}/retry → { success, removed, message }
 *
 * Whether the daemon runs rules at all comes from GET /v1/status (`rules.configured`): without
 * them the pane says so in a sentence and asks nothing else. While the rules plugin is not running
 * the routes answer 503; the pane says that in a sentence too and keeps asking, and shows the
 * invalid rules the daemon knows of (from its status) meanwhile.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, enc, post } from '../api';
import { ErrorLine, Facts, JsonDetails, Num, Section, StateBadge, Time } from '../components';
import { duration, num } from '../format';
import { usePoll } from '../hooks';
import type { DeadLetterList, DryRun, Firing, GatePreview, InvalidRule, PauseAnswer, RetryAnswer, RuleHistory, RuleSummary, RulesList, RulesStatus } from '../types';

const POLL_MS = 3000;

/**
 * `status`: the rules part of GET /v1/status; undefined while it loads, null when the daemon's
 * status has none (a daemon older than the rules API).
 */
export function RulesPane({ status }: { status: RulesStatus | null | undefined }) {
  if (status === undefined) return <div class="pane"><p class="muted">Loading…</p></div>;
  if (status === null || !status.configured) return <RulesAbsent />;
  return <Rules status={status} />;
}

function RulesAbsent() {
  return (
    <div class="pane">
      <div class="pane-head"><h2>Rules and dead letters</h2></div>
      <p class="empty" data-testid="rules-absent">
        Rules are not configured on this daemon: it was started without any. Add <code>rules:</code> or <code>rulesPath:</code> to heimdall.config.yaml and restart the daemon; it then runs its built-in rules plugin and they show here.
      </p>
    </div>
  );
}

const YesNo = ({ value, yes = 'yes', no = 'no' }: { value: boolean; yes?: string; no?: string }) => (
  <span class={`badge ${value ? 'tone-ok' : 'tone-bad'}`}>{value ? yes : no}</span>
);

function suppressedText(s: Record<string, number>): { total: number; detail: string } {
  const parts = Object.entries(s).filter(([, n]) => n > 0);
  return { total: parts.reduce((a, [, n]) => a + n, 0), detail: parts.map(([k, n]) => `${k} ${num(n)}`).join(', ') };
}

function Rules({ status }: { status: RulesStatus }) {
  const rules = usePoll((signal) => api<RulesList>('/v1/rules', { signal }), POLL_MS);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [said, setSaid] = useState<string | undefined>(undefined);
  const [actionError, setActionError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);

  const err = rules.error;
  if (rules.data?.configured === false) return <RulesAbsent />;
  if (err?.status === 503) {
    return (
      <div class="pane">
        <div class="pane-head"><h2>Rules and dead letters</h2></div>
        <p class="notice" role="status" data-testid="rules-unavailable">
          <span><strong>The rules engine is not running, so the rules cannot be read or changed now.</strong> {err.message} This page asks again every {POLL_MS / 1000} s.</span>
        </p>
        <InvalidRules invalid={status.invalid} />
      </div>
    );
  }

  const pauseOrResume = async (r: RuleSummary, what: 'pause' | 'resume') => {
    setActionError(undefined);
    setSaid(undefined);
    setBusy(r.name);
    try {
      const a = await post<PauseAnswer>(`/v1/rules/${enc(r.name)}/${what}`, {});
      setSaid(a.message);
      rules.refresh();
    } catch (e) {
      setActionError(e as ApiError);
    } finally {
      setBusy(undefined);
    }
  };

  const list = rules.data?.rules;
  const chosen = list?.find((r) => r.name === selected);
  const deadTotal = list?.reduce((a, r) => a + r.deadLettered, 0) ?? 0;
  return (
    <div class="pane">
      <div class="pane-head">
        <h2>Rules and dead letters</h2>
        {rules.data ? <span class="muted small" data-testid="rules-message">{rules.data.message}</span> : null}
      </div>
      <Section title="Rules" id="rules-list">
        <ErrorLine error={err} what="Rules" />
        {list === undefined ? (err ? null : <p class="muted">Loading…</p>) : list.length === 0 ? <p class="empty">No rule is loaded{rules.data!.invalid.length > 0 ? ': every rule has a problem (below)' : ''}.</p> : (
          <div class="table-wrap">
            <table class="stack">
              <caption class="sr-only">Rules in priority order (lower runs first), with their counts since the rules plugin started</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">State</th>
                  <th scope="col" class="r">Priority</th>
                  <th scope="col">On</th>
                  <th scope="col" class="r">Matched</th>
                  <th scope="col" class="r">Fired</th>
                  <th scope="col" class="r">Suppressed</th>
                  <th scope="col" class="r">Dead-lettered</th>
                  <th scope="col">Last fired</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => {
                  const sup = suppressedText(r.suppressed);
                  return (
                    <tr key={r.name} data-rule={r.name} class={selected === r.name ? 'selected' : ''}>
                      <th scope="row" data-label="Rule">{r.name}{r.description ? <div class="muted small">{r.description}</div> : null}</th>
                      <td data-label="State" data-testid="rule-state"><StateBadge state={r.state} /></td>
                      <td data-label="Priority" class="r"><Num n={r.priority} /></td>
                      <td data-label="On" class="wrap">{r.on.map((t) => <code key={t} class="tag">{t}</code>)}</td>
                      <td data-label="Matched" class="r" data-testid="rule-matched"><Num n={r.matched} /></td>
                      <td data-label="Fired" class="r" data-testid="rule-fired"><Num n={r.fired} /></td>
                      <td data-label="Suppressed" class="r" data-testid="rule-suppressed"><Num n={sup.total} />{sup.detail ? <div class="muted small">{sup.detail}</div> : null}</td>
                      <td data-label="Dead-lettered" class="r" data-testid="rule-dead"><Num n={r.deadLettered} /></td>
                      <td data-label="Last fired" class="nowrap">{r.lastFiredAt ? <Time at={r.lastFiredAt} /> : <span class="muted">never</span>}</td>
                      <td data-label="Actions">
                        <div class="buttons row-actions">
                          {r.state === 'paused'
                            ? <button type="button" disabled={busy === r.name} onClick={() => void pauseOrResume(r, 'resume')} aria-label={`Resume rule ${r.name}`}>Resume</button>
                            : <button type="button" disabled={r.state === 'disabled' || busy === r.name} title={r.state === 'disabled' ? 'Disabled in its definition (enabled: false)' : undefined} onClick={() => void pauseOrResume(r, 'pause')} aria-label={`Pause rule ${r.name}`}>Pause</button>}
                          <button type="button" aria-expanded={selected === r.name} aria-controls="rule-detail" onClick={() => setSelected(selected === r.name ? undefined : r.name)} aria-label={`Test and history of rule ${r.name}`}>Test and history</button>
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {list && list.length > 0 ? <p class="muted small">Counts since the rules plugin started; dead-lettered counts every action that went to the dead letters, retried or not.</p> : null}
        <p aria-live="polite" data-testid="rules-said">{said ?? ''}</p>
        <ErrorLine error={actionError} what="Not done" />
      </Section>
      {chosen ? <RuleDetail rule={chosen} key={chosen.name} onClose={() => setSelected(undefined)} /> : null}
      <InvalidRules invalid={rules.data?.invalid ?? status.invalid} />
      <DeadLetters names={list?.map((r) => r.name) ?? []} bump={deadTotal} onChange={rules.refresh} />
    </div>
  );
}

function InvalidRules({ invalid }: { invalid: InvalidRule[] }) {
  if (invalid.length === 0) return null;
  return (
    <Section title={`Invalid rules (${invalid.length})`} id="rules-invalid">
      <p class="muted small">Each was left out and the other rules run. Fix the file and run <code>heimdall reload</code>; <code>heimdall validate</code> lists every problem.</p>
      <ul class="plain">
        {invalid.map((i) => (
          <li key={`${i.name}@${i.at ?? ''}`} class="invalid-rule" data-invalid-rule={i.name}>
            <div><strong>{i.name}</strong>{i.at ? <> at <code class="wrap" data-testid="invalid-at">{i.at}</code></> : null}</div>
            <ul>
              {i.problems.map((p, n) => <li key={n} class="error-text">{p}</li>)}
            </ul>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function RuleDetail({ rule, onClose }: { rule: RuleSummary; onClose: () => void }) {
  return (
    <section class="card" id="rule-detail" aria-labelledby="rule-detail-title">
      <div class="card-head">
        <h2 id="rule-detail-title">Rule {rule.name}</h2>
        <div class="card-actions"><button type="button" class="link" onClick={onClose}>Close</button></div>
      </div>
      <div class="two">
        <TestRule rule={rule} />
        <History rule={rule} />
      </div>
    </section>
  );
}

/** A starting event for a rule's first event type (a family such as query.* or * becomes one of its types). */
function sampleEvent(on: string[]): string {
  const first = on[0] ?? 'node.created';
  const type = first === '*' ? 'node.created' : first.endsWith('.*') ? `${first.slice(0, -2)}.${first.startsWith('query') ? 'failed' : 'created'}` : first;
  const node = type.startsWith('node.');
  const rel = type.startsWith('relationship.');
  return JSON.stringify({ type, ...(node ? { nodeLabels: [] } : {}), ...(rel ? { relationshipType: 'RELATED_TO' } : {}), ...(node || rel ? { properties: {} } : {}) }, null, 2);
}

function gateLines(g: GatePreview): string[] {
  const out: string[] = [];
  if (g.window) out.push(`Window: this would be event ${num(g.window.inWindow)} of the ${num(g.window.count)} it needs within ${duration(g.window.withinMs)}${g.window.completes ? ', which completes it' : ', not enough yet'}.`);
  if (g.debounce) out.push(`Debounce: it fires after ${duration(g.debounce.ms)} without another matching event${g.debounce.pending ? ' (a firing already waits for the same key)' : ''}.`);
  if (g.cooldown) out.push(g.cooldown.active ? `Cooldown: cooling down for ${duration(g.cooldown.remainingMs)} more (of ${duration(g.cooldown.ms)}).` : `Cooldown: ${duration(g.cooldown.ms)}, not cooling down now.`);
  if (g.concurrency) out.push(`Concurrency: ${num(g.concurrency.inFlight)} of at most ${num(g.concurrency.max)} firings running${g.concurrency.full ? ', full' : ''}.`);
  return out;
}

function DryRunResult({ r }: { r: DryRun }) {
  const gates = gateLines(r.gates);
  return (
    <div class="result" data-testid="test-result">
      <p><strong>{r.summary}</strong></p>
      <Facts items={[
        ['Matched', <span data-testid="test-matched"><YesNo value={r.matched} /></span>],
        ['Would fire', <span data-testid="test-would-fire"><YesNo value={r.wouldFire} /></span>],
        ['Rule state', <StateBadge state={r.state} />],
        ...(r.key !== undefined ? [['Window key', <code>{r.key}</code>] as [string, ComponentChildren]] : []),
        ...(r.gates.blockedBy ? [['Stopped by', r.gates.blockedBy] as [string, ComponentChildren]] : []),
      ]} />
      {r.reasons.length > 0 ? (
        <>
          <h4>Why it does not match</h4>
          <ul data-testid="test-reasons">{r.reasons.map((x, i) => <li key={i}>{x}</li>)}</ul>
        </>
      ) : null}
      <h4>Gates</h4>
      {!r.matched ? <p class="muted small">Not checked: the event does not match.</p> : gates.length === 0 ? <p class="muted small">No window, debounce, cooldown or concurrency limit.</p> : <ul>{gates.map((x, i) => <li key={i}>{x}</li>)}</ul>}
      <h4>Actions, rendered with this event</h4>
      <ol class="actions">
        {r.actions.map((a) => (
          <li key={a.index} data-testid="test-action">
            <strong>{a.type}</strong> <span class="muted small">{a.timing}, up to {num(a.retry.maxAttempts)} attempt{a.retry.maxAttempts === 1 ? '' : 's'}{a.continueOnError ? ', continues on error' : ''}</span>
            {a.error ? <p class="error-text">It would not render: {a.error}</p> : <pre>{JSON.stringify(a.input, null, 2)}</pre>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function TestRule({ rule }: { rule: RuleSummary }) {
  const [text, setText] = useState(() => sampleEvent(rule.on));
  const [result, setResult] = useState<DryRun | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const id = `rule-event-${rule.name}`;
  const run = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch (err) {
      setError(new Error(`The event is not valid JSON: ${(err as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      setResult(await post<DryRun>(`/v1/rules/${enc(rule.name)}/test`, { event }));
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form" onSubmit={(e) => void run(e)} aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Test with an event</h3>
      <div class="field">
        <label for={id}>Event (JSON; a dry run: nothing runs, nothing is counted)</label>
        <textarea id={id} rows={8} class="mono" spellcheck={false} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      </div>
      <div class="buttons"><button type="submit" class="primary" disabled={busy}>Test</button></div>
      <div aria-live="polite">
        <ErrorLine error={error} what="Test" />
        {result ? <DryRunResult r={result} /> : null}
      </div>
    </form>
  );
}

function History({ rule }: { rule: RuleSummary }) {
  // asked again at once when the rule fired since
  const history = usePoll((signal) => api<RuleHistory>(`/v1/rules/${enc(rule.name)}/history?limit=20`, { signal }), POLL_MS, [rule.name, rule.fired]);
  const firings = history.data?.firings;
  return (
    <div aria-labelledby="rule-history-title" role="region">
      <h3 id="rule-history-title">Recent firings</h3>
      <ErrorLine error={history.error} what="History" />
      {firings === undefined ? (history.error ? null : <p class="muted">Loading…</p>) : firings.length === 0 ? <p class="empty">It has not fired since the rules plugin started.</p> : (
        <ul class="plain" data-testid="rule-history">
          {firings.map((f) => <FiringItem f={f} key={f.id} />)}
        </ul>
      )}
    </div>
  );
}

function FiringItem({ f }: { f: Firing }) {
  return (
    <li class="firing" data-firing={f.id}>
      <div class="firing-head">
        <Time at={f.startedAt} />
        <StateBadge state={f.status === 'partial' ? 'degraded' : f.status} label={f.status} />
        <span class="muted small">{f.eventType} <code>{f.eventId}</code>{f.windowCount > 1 ? ` · ${num(f.windowCount)} events in the window` : ''}{f.key ? ` · key ${f.key}` : ''} · took {duration(f.durationMs)}</span>
      </div>
      <ol class="actions">
        {f.actions.map((a) => (
          <li key={a.index}>
            <strong>{a.type}</strong> <StateBadge state={a.status === 'skipped' ? 'stopped' : a.status} label={a.status} />{' '}
            <span class="muted small">{num(a.attempts)} attempt{a.attempts === 1 ? '' : 's'}, {duration(a.durationMs)}{a.deadLetterId ? ' · dead-lettered' : ''}</span>
            {a.error ? <div class="error-text small wrap">{a.error}</div> : null}
          </li>
        ))}
      </ol>
      <JsonDetails summary="Inputs and results" value={f.actions.map((a) => ({ action: a.type, input: a.input, ...(a.result !== undefined ? { result: a.result } : {}), ...(a.error ? { error: a.error } : {}) }))} />
    </li>
  );
}

function DeadLetters({ names, bump, onChange }: { names: string[]; bump: number; onChange: () => void }) {
  const [rule, setRule] = useState('');
  const letters = usePoll((signal) => api<DeadLetterList>(`/v1/dead-letters?limit=100${rule ? `&rule=${enc(rule)}` : ''}`, { signal }), POLL_MS, [rule, bump]);
  const [retrying, setRetrying] = useState<string | undefined>(undefined);
  const [answer, setAnswer] = useState<RetryAnswer | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const retry = async (id: string) => {
    setRetrying(id);
    setAnswer(undefined);
    setError(undefined);
    try {
      setAnswer(await post<RetryAnswer>(`/v1/dead-letters/${enc(id)}/retry`, {}));
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setRetrying(undefined);
      letters.refresh();
      onChange();
    }
  };
  const dead = letters.data?.entries;
  return (
    <Section
      title="Dead letters"
      id="rules-dead"
      actions={
        <label class="inline">
          Of rule
          <select value={rule} onChange={(e) => setRule((e.currentTarget as HTMLSelectElement).value)}>
            <option value="">all rules</option>
            {names.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
      }
    >
      <p class="muted small">Actions that still failed after their retries. Retry runs one again with its stored input and retry policy; when it succeeds it leaves the list.</p>
      <ErrorLine error={letters.error} what="Dead letters" />
      <div aria-live="polite">
        {answer ? <p class={answer.success ? 'result ok-text' : 'error'} data-testid="retry-result">{answer.message}</p> : null}
        <ErrorLine error={error} what="Retry" />
      </div>
      {letters.data && letters.data.count > 0 ? <p class="muted small" data-testid="dead-message">{letters.data.message}</p> : null}
      {dead === undefined ? (letters.error ? null : <p class="muted">Loading…</p>) : dead.length === 0 ? <p class="empty">No dead letter{rule ? ` of ${rule}` : ''}: every action either ran or is still retrying.</p> : (
        <ul class="plain">
          {dead.map((d) => (
            <li key={d.id} class="dead-letter" data-dead-letter={d.id}>
              <div class="firing-head">
                <strong>{d.rule}</strong>
                <span>action {num(d.actionIndex + 1)}, <strong>{d.action}</strong></span>
                <span class="muted small">dead-lettered <Time at={d.at} /></span>
              </div>
              <Facts items={[
                ['Attempts', <>{num(d.attempts)}{d.retries > 0 ? <span class="muted small"> ({num(d.retries)} operator retr{d.retries === 1 ? 'y' : 'ies'}{d.lastRetryAt ? <>, last <Time at={d.lastRetryAt} /></> : null})</span> : null}</>],
                ['Event', <span class="wrap">{String(d.event?.type ?? '')} <code>{d.eventId}</code></span>],
                ['Last error', <span class="error-text wrap">{d.lastError}</span>],
              ]} />
              <JsonDetails summary="Input" value={d.input} />
              <JsonDetails summary="Event" value={d.event} />
              <div class="buttons">
                <button type="button" disabled={retrying !== undefined} onClick={() => void retry(d.id)} aria-label={`Retry the ${d.action} action of rule ${d.rule} (dead letter ${d.id})`}>
                  {retrying === d.id ? 'Retrying…' : 'Retry'}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
