/**
 * How `heimdall rules …` and `heimdall dead-letters list` print the daemon's answers for people
 * (--json prints the answer as it came).
 */
import { stringify } from 'yaml';
import { indent, out, table, truncate } from './output.js';

type Obj = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const when = (iso: unknown): string => (typeof iso === 'string' ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
const list = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v ?? ''));
const sum = (o: unknown): number => Object.values((o ?? {}) as Record<string, number>).reduce((a, b) => a + num(b), 0);

export function printInvalid(invalid: unknown): void {
  const bad = (invalid ?? []) as Array<{ name: string; at?: string; problems: string[] }>;
  if (bad.length === 0) return;
  out();
  out(`Invalid rules, left out (the others run); fix them and run \`heimdall reload\`:`);
  for (const b of bad) for (const p of b.problems) out(`  ${b.name}${b.at ? ` (${b.at})` : ''}: ${p}`);
}

export function printRuleList(body: Obj): void {
  const rules = (body.rules ?? []) as Obj[];
  if (body.configured === false) {
    out('No rules are configured; add rules: or rulesPath: to the config (see the README, "Rules") and restart the daemon.');
    return;
  }
  if (rules.length === 0) out('No rules are loaded.');
  else {
    out(table(['rule', 'state', 'priority', 'on', 'matched', 'fired', 'suppressed', 'dead-lettered', 'last fired'],
      rules.map((r) => [r.name, r.state, r.priority, list(r.on), r.matched, r.fired, sum(r.suppressed), r.deadLettered, when(r.lastFiredAt)])));
  }
  printInvalid(body.invalid);
}

export function printRule(body: Obj): void {
  const s = (body.statistics ?? {}) as Obj;
  const d = (body.definition ?? {}) as Obj;
  const sup = (s.suppressed ?? {}) as Obj;
  const act = (s.actions ?? {}) as Obj;
  const live = (body.live ?? {}) as Obj;
  out(`The rule ${String(body.name)} is ${String(body.state)} (priority ${String(d.priority ?? 100)}, on ${list(d.on)}).${d.description ? ` ${String(d.description)}` : ''}`);
  out(`Matched ${num(s.matched)}, fired ${num(s.fired)}; suppressed by window ${num(sup.window)}, cooldown ${num(sup.cooldown)}, debounce ${num(sup.debounce)}, concurrency ${num(sup.concurrency)}.`);
  out(`Actions: ${num(act.succeeded)} succeeded, ${num(act.failed)} failed, ${num(act.retries)} retries, ${num(act.deadLettered)} dead-lettered.${s.lastFiredAt ? ` Last fired ${when(s.lastFiredAt)}.` : ''}`);
  if (num(s.evalErrors) > 0) out(`Condition errors: ${num(s.evalErrors)} (last: ${String(s.lastEvalError)}).`);
  out(`Now: ${num(live.windows)} open windows, ${num(live.cooldownKeys)} keys cooling down, ${num(live.debouncing)} debounced, ${num(live.inFlight)} firings running.`);
  out();
  out('Definition:');
  out(indent(stringify(d).trimEnd()));
}

export function printDryRun(body: Obj): void {
  const summary = String(body.summary ?? body.message);
  out(summary);
  for (const r of (body.reasons ?? []) as string[]) if (!summary.includes(r)) out(`  - ${r}`);
  const actions = (body.actions ?? []) as Obj[];
  if (actions.length === 0) return;
  out();
  out(`The actions it would run${body.wouldFire ? '' : ' if it fired'} (nothing was run):`);
  for (const a of actions) {
    const head = `  [${String(a.index)}] ${String(a.type)} (${String(a.timing)}${num((a.retry as Obj | undefined)?.maxAttempts) > 1 ? `, up to ${num((a.retry as Obj).maxAttempts)} attempts` : ''})`;
    out(a.error !== undefined ? `${head}: cannot render: ${String(a.error)}` : `${head}: ${truncate(JSON.stringify(a.input), 200)}`);
  }
}

function actionsText(actions: Obj[]): string {
  return actions
    .map((a) => `${String(a.type)} ${String(a.status)}${num(a.attempts) > 1 ? ` ×${num(a.attempts)}` : ''}${a.deadLetterId ? ` → dead letter ${String(a.deadLetterId)}` : ''}`)
    .join(', ');
}

export function printHistory(body: Obj): void {
  const firings = (body.firings ?? []) as Obj[];
  if (firings.length === 0) {
    out(`${String(body.message)} It fires when a matching event passes its window, debounce, cooldown and concurrency.`);
    return;
  }
  out(table(['started', 'took', 'event', 'type', 'status', 'actions'],
    firings.map((f) => [when(f.startedAt), `${num(f.durationMs)} ms`, f.eventId, f.eventType, f.status, truncate(actionsText((f.actions ?? []) as Obj[]), 80)])));
  const errors = firings.flatMap((f) => ((f.actions ?? []) as Obj[]).filter((a) => a.error).map((a) => `  ${String(f.eventId)} ${String(a.type)}: ${String(a.error)}`));
  if (errors.length > 0) out(['', 'Errors:', ...errors.slice(0, 20)].join('\n'));
}

export function printDeadLetters(body: Obj): void {
  const entries = (body.entries ?? []) as Obj[];
  if (body.configured === false) {
    out('No rules are configured, so there are no dead letters.');
    return;
  }
  if (entries.length === 0) {
    out(`No dead letters (${num(body.added)} added, ${num(body.retried)} retried, ${num(body.evicted)} evicted since the rules plugin started).`);
    return;
  }
  out(table(['id', 'at', 'rule', 'action', 'attempts', 'event', 'last error'],
    entries.map((e) => [e.id, when(e.at), e.rule, `${String(e.action)} #${String(e.actionIndex)}`, e.attempts, e.eventId, truncate(String(e.lastError ?? ''), 70)])));
  out();
  out(`${num(body.count)} of at most ${num(body.max)} kept. Retry one with \`heimdall dead-letters retry <id>\` once its cause is fixed.`);
}
