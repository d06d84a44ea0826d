/**
 * The JSON reply protocol for servers or models without function tools: the model answers
 * `{"action": "<name>", "params": {...}}` (or a list of such objects) to run actions, or plain
 * text to finish. Replies are parsed robustly: code fences, prose around the object, braces
 * inside strings, `arguments` for `params`, params given as a JSON string, trailing commas.
 */

export interface JsonCall {
  action: string;
  params: Record<string, unknown>;
}

export type JsonReply =
  | { kind: 'calls'; calls: JsonCall[] }
  | { kind: 'answer'; text: string }
  | { kind: 'malformed'; error: string };

const MAX_SCAN = 200_000;

/** End index (exclusive) of the balanced JSON value starting at `start` ('{' or '['), or -1. */
function balancedEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

/** Removes trailing commas before } or ] outside strings. */
function dropTrailingCommas(s: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += s[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === ',') {
      let j = i + 1;
      while (j < s.length && /\s/.test(s[j]!)) j++;
      if (s[j] === '}' || s[j] === ']') continue;
    }
    out += c;
  }
  return out;
}

function tryParse(s: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    try {
      return { ok: true, value: JSON.parse(dropTrailingCommas(s)) };
    } catch {
      return { ok: false };
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one `{action, params}` object; a string error when it is one but is wrong. */
function toCall(v: unknown): JsonCall | string | undefined {
  if (!isObject(v) || !('action' in v)) return undefined;
  if (typeof v.action !== 'string' || v.action.trim() === '') return '"action" must be the name of an action as a string.';
  let params: unknown = v.params ?? v.arguments ?? {};
  if (typeof params === 'string') {
    const p = tryParse(params);
    if (!p.ok) return `"params" of ${v.action} is a string that is not valid JSON.`;
    params = p.value;
  }
  if (!isObject(params)) return `"params" of ${v.action} must be a JSON object.`;
  return { action: v.action.trim(), params };
}

/** Interprets a parsed JSON value: calls, a final answer, an error, or nothing of interest. */
function interpret(v: unknown): JsonReply | undefined {
  const list = Array.isArray(v) ? v : isObject(v) && Array.isArray(v.actions) ? v.actions : [v];
  const calls: JsonCall[] = [];
  for (const item of list) {
    const c = toCall(item);
    if (typeof c === 'string') return { kind: 'malformed', error: c };
    if (c) calls.push(c);
  }
  if (calls.length > 0) return { kind: 'calls', calls };
  if (isObject(v) && typeof v.answer === 'string') return { kind: 'answer', text: v.answer };
  return undefined;
}

/** Candidate JSON texts, most likely first: fenced blocks, the whole reply, then every balanced value. */
function* candidates(text: string): Generator<string> {
  const fence = /```[a-zA-Z0-9_-]*\s*\n?([\s\S]*?)```/g;
  for (let m = fence.exec(text); m; m = fence.exec(text)) yield m[1]!.trim();
  yield text.trim();
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '{' && c !== '[') continue;
    const end = balancedEnd(text, i);
    if (end > 0) yield text.slice(i, end);
  }
}

export function parseJsonReply(raw: string | null | undefined): JsonReply {
  const text = (raw ?? '').slice(0, MAX_SCAN);
  for (const cand of candidates(text)) {
    const p = tryParse(cand);
    if (!p.ok) continue;
    const r = interpret(p.value);
    if (r) return r;
  }
  if (/"(action|actions)"\s*:/.test(text)) {
    return {
      kind: 'malformed',
      error: 'Your reply mentions "action" but holds no valid JSON object. Answer with exactly {"action": "<name>", "params": {...}} and nothing else, or with plain text to finish.',
    };
  }
  const stripped = text.replace(/^```[a-zA-Z0-9_-]*\s*\n?([\s\S]*?)```$/m, '$1').trim();
  return { kind: 'answer', text: stripped };
}
