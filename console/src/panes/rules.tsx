/**
 * Rules and dead letters, through the pinned routes GET /v1/rules, POST /v1/rules/{name}/pause,
 * /resume and /test, GET /v1/dead-letters and POST /v1/dead-letters/{id}/retry. When GET /v1/rules
 * answers 404 (no rules engine on this daemon, or a daemon without the rules API) the pane says
 * so in a sentence and asks nothing else.
 */
import { useState } from 'preact/hooks';
import { api, ApiError, enc, post } from '../api';
import { ErrorLine, JsonDetails, Num, Section, StateBadge, Time } from '../components';
import { usePoll } from '../hooks';

interface RuleSummary {
  name: string;
  description?: string;
  state: string;
  priority?: number;
  on?: string[] | string;
  matched?: number;
  fired?: number;
  suppressed?: Record<string, number>;
  deadLettered?: number;
  lastFiredAt?: string;
}

interface DeadLetter {
  id: string;
  at: string;
  rule: string;
  eventId?: string;
  action: string;
  attempts?: number;
  lastError?: string;
  input?: unknown;
  retries?: number;
}

type Wrapped<T> = T | { data?: T };

/** The list routes may answer { rules } or an ActionResult-like { data: { rules } }. */
function unwrap<T extends object>(body: Wrapped<T>): T {
  const b = body as { data?: T };
  return b.data !== undefined && typeof b.data === 'object' ? b.data : (body as T);
}

function rulesOf(body: unknown): RuleSummary[] {
  if (Array.isArray(body)) return body as RuleSummary[];
  const u = unwrap(body as Wrapped<{ rules?: RuleSummary[] }>);
  return Array.isArray(u.rules) ? u.rules : [];
}

function lettersOf(body: unknown): DeadLetter[] {
  if (Array.isArray(body)) return body as DeadLetter[];
  const u = unwrap(body as Wrapped<{ entries?: DeadLetter[]; deadLetters?: DeadLetter[] }>);
  return u.entries ?? u.deadLetters ?? [];
}

const messageOf = (r: unknown): string => {
  const m = (r as { message?: unknown })?.message;
  return typeof m === 'string' ? m : 'Done.';
};

function TestRule({ name }: { name: string }) {
  const [text, setText] = useState('{\n  "type": "node.created",\n  "nodeLabels": ["Person"],\n  "properties": {}\n}');
  const [result, setResult] = useState<unknown>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
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
    try {
      setResult(await post(`/v1/rules/${enc(name)}/test`, { event }));
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <form class="form" onSubmit={(e) => void run(e)}>
      <div class="field">
        <label for={`rule-event-${name}`}>Event to test {name} with (JSON; nothing runs)</label>
        <textarea id={`rule-event-${name}`} rows={6} class="mono" spellcheck={false} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      </div>
      <div class="buttons"><button type="submit">Test</button></div>
      <ErrorLine error={error} what="Test" />
      {result !== undefined ? <div aria-live="polite"><p>{messageOf(result)}</p><JsonDetails value={result} summary="Dry-run result" open /></div> : null}
    </form>
  );
}

/**
 * `engine`: whether the daemon runs the rules plugin (from /v1/status). Without it the pane asks
 * nothing (a request that can only answer 404 would only add noise to the browser's console).
 */
export function RulesPane({ engine }: { engine: boolean | undefined }) {
  if (engine === undefined) return <div class="pane"><p class="muted">Loading…</p></div>;
  if (!engine) return <RulesAbsent why="it runs no rules engine" />;
  return <Rules />;
}

function RulesAbsent({ why }: { why: string }) {
  return (
    <div class="pane">
      <div class="pane-head"><h2>Rules and dead letters</h2></div>
      <p class="empty" data-testid="rules-absent">Rules are not configured on this daemon: {why}. Add the rules plugin (plugins/rules) with its rules to heimdall.config.yaml to use them here.</p>
    </div>
  );
}

function Rules() {
  const rules = usePoll((signal) => api<unknown>('/v1/rules', { signal }), 5000);
  const [testing, setTesting] = useState<string | undefined>(undefined);
  const [said, setSaid] = useState<string | undefined>(undefined);
  const [actionError, setActionError] = useState<Error | undefined>(undefined);
  const [bump, setBump] = useState(0);

  if (rules.error?.status === 404) return <RulesAbsent why="GET /v1/rules answered 404" />;

  const act = async (path: string) => {
    setActionError(undefined);
    setSaid(undefined);
    try {
      setSaid(messageOf(await post(path, {})));
      rules.refresh();
      setBump((n) => n + 1);
    } catch (err) {
      setActionError(err as ApiError);
    }
  };
  const list = rules.data === undefined ? undefined : rulesOf(rules.data);
  return (
    <div class="pane">
      <div class="pane-head"><h2>Rules and dead letters</h2></div>
      <p aria-live="polite">{said ?? ''}</p>
      <ErrorLine error={actionError} what="Not done" />
      <Section title="Rules" id="rules-list">
        <ErrorLine error={rules.error} what="Rules" />
        {list === undefined ? <p class="muted">Loading…</p> : list.length === 0 ? <p class="empty">No rule is loaded.</p> : (
          <div class="table-wrap">
            <table class="stack">
              <caption class="sr-only">Rules in priority order</caption>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">State</th>
                  <th scope="col">On</th>
                  <th scope="col" class="r">Matched</th>
                  <th scope="col" class="r">Fired</th>
                  <th scope="col" class="r">Dead letters</th>
                  <th scope="col">Last fired</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.name} data-rule={r.name}>
                    <th scope="row" data-label="Rule">{r.name}{r.description ? <div class="muted small">{r.description}</div> : null}</th>
                    <td data-label="State"><StateBadge state={r.state} /></td>
                    <td data-label="On">{Array.isArray(r.on) ? r.on.join(', ') : (r.on ?? '')}</td>
                    <td data-label="Matched" class="r"><Num n={r.matched} /></td>
                    <td data-label="Fired" class="r"><Num n={r.fired} /></td>
                    <td data-label="Dead letters" class="r"><Num n={r.deadLettered} /></td>
                    <td data-label="Last fired">{r.lastFiredAt ? <Time at={r.lastFiredAt} /> : <span class="muted">never</span>}</td>
                    <td data-label="Actions" class="buttons">
                      {r.state === 'paused'
                        ? <button type="button" onClick={() => void act(`/v1/rules/${enc(r.name)}/resume`)} aria-label={`Resume rule ${r.name}`}>Resume</button>
                        : <button type="button" disabled={r.state === 'disabled'} onClick={() => void act(`/v1/rules/${enc(r.name)}/pause`)} aria-label={`Pause rule ${r.name}`}>Pause</button>}
                      <button type="button" aria-expanded={testing === r.name} onClick={() => setTesting(testing === r.name ? undefined : r.name)} aria-label={`Test rule ${r.name} with an event`}>Test</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {testing ? <TestRule name={testing} key={testing} /> : null}
      </Section>
      <DeadLetters act={act} bump={bump} />
    </div>
  );
}

function DeadLetters({ act, bump }: { act: (path: string) => Promise<void>; bump: number }) {
  const letters = usePoll((signal) => api<unknown>('/v1/dead-letters', { signal }), 5000, [bump]);
  const dead = letters.data === undefined ? undefined : lettersOf(letters.data);
  return (
    <Section title="Dead letters" id="rules-dead">
      <ErrorLine error={letters.error} what="Dead letters" />
      {dead === undefined ? <p class="muted">Loading…</p> : dead.length === 0 ? <p class="empty">No dead letter: every action either ran or is still retrying.</p> : (
        <ul class="plain">
          {dead.map((d) => (
            <li key={d.id} class="card">
              <div><strong>{d.rule}</strong> · {d.action} · <Time at={d.at} /> · <Num n={d.attempts} /> attempts</div>
              {d.lastError ? <p class="error-text">{d.lastError}</p> : null}
              {d.input !== undefined ? <JsonDetails summary="Input" value={d.input} /> : null}
              <button type="button" onClick={() => void act(`/v1/dead-letters/${enc(d.id)}/retry`)} aria-label={`Retry dead letter ${d.id}`}>Retry</button>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
