/**
 * The secrets of one config, and the scrubbing of every text that leaves the daemon.
 *
 * {@link SecretScrubber.collect} walks a config (loaded, or the raw tree of a file that failed to
 * load) and keeps the exact secret strings in it: every string under a key that looks secret at
 * any depth (database.password, llm.apiKey, server.token, a plugin's config.db.password), the
 * credentials in every URL (database.uri's password, llm.baseURL's `?api_key=`, a webhook URL's
 * token), and the values of `headers` that are credentials (by the header's name, or because the
 * value is `Bearer …` or a token). Strings shorter than {@link MIN_SECRET_LENGTH} are not kept:
 * scrubbing them from free text would cut ordinary words; they are still masked wherever the
 * config itself is shown.
 *
 * The scrubber then replaces those values (as written, JSON-escaped and percent-encoded) and
 * everything redact.ts recognises by shape with `***` in: log lines ({@link maskKeys} on the
 * logged object, then {@link json} on the line), HTTP bodies ({@link json}), Bifrost messages and audit entries ({@link deep}), and CLI and error
 * text ({@link text}). The known values are what catches a secret that a driver or a server
 * echoes inside an error message.
 *
 * Event data is not scrubbed: it is user data, not config, and scrubbing it would cost every event.
 */
import { REDACTED, isSecretKey, isUrl, looksLikeCredential, redactText, redactUrl, urlSecrets } from './redact.js';

export { REDACTED } from './redact.js';

/** Shorter secrets are masked where the config is shown but not scrubbed from free text. */
export const MIN_SECRET_LENGTH = 8;

/** Deepest level {@link SecretScrubber.deep} and {@link SecretScrubber.collect} descend to. */
const MAX_DEPTH = 64;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A string in JSON, without its quotes. */
const jsonEscaped = (s: string): string => JSON.stringify(s).slice(1, -1);

/** isSecretKey by key name, remembered: log objects repeat the same few keys. */
const secretKeyCache = new Map<string, boolean>();
function isSecretKeyCached(name: string): boolean {
  let v = secretKeyCache.get(name);
  if (v === undefined) {
    v = isSecretKey(name);
    if (secretKeyCache.size >= 10000) secretKeyCache.clear();
    secretKeyCache.set(name, v);
  }
  return v;
}

export class SecretScrubber {
  private readonly values = new Set<string>();
  private textPattern: RegExp | undefined;
  private jsonPattern: RegExp | undefined;

  constructor(values: Iterable<string> = []) {
    for (const v of values) this.add(v);
  }

  /** A scrubber that knows the secrets of `config` (a loaded config or a raw config tree). */
  static fromConfig(config: unknown): SecretScrubber {
    return new SecretScrubber().collect(config);
  }

  /** How many distinct secret values it knows. */
  get size(): number {
    return this.values.size;
  }

  /** True when `value` is one of the known secrets. */
  has(value: string): boolean {
    return this.values.has(value);
  }

  /** Keeps one secret value (ignored when shorter than MIN_SECRET_LENGTH or already known). */
  add(value: unknown): this {
    if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
    if (typeof value !== 'string') return this;
    const v = value.trim();
    if (v.length < MIN_SECRET_LENGTH || v === REDACTED || this.values.has(v)) return this;
    this.values.add(v);
    this.textPattern = undefined;
    this.jsonPattern = undefined;
    return this;
  }

  /** Keeps every secret of a config tree (see the file comment for what counts). */
  collect(tree: unknown): this {
    this.walk(tree, false, 0, new WeakSet());
    return this;
  }

  private walk(v: unknown, secret: boolean, depth: number, seen: WeakSet<object>): void {
    if (depth > MAX_DEPTH) return;
    if (typeof v === 'string') {
      if (secret) this.add(v);
      if (isUrl(v)) for (const s of urlSecrets(v)) this.add(s);
      else if (looksLikeCredential(v) && /^\S+\s+\S+$/.test(v.trim())) this.addCredential(v);
      return;
    }
    if (typeof v === 'number') {
      if (secret) this.add(v);
      return;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) this.walk(x, secret, depth + 1, seen);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (k === 'headers' && x !== null && typeof x === 'object' && !Array.isArray(x)) {
        for (const [name, value] of Object.entries(x)) {
          if (typeof value !== 'string') continue;
          if (secret || isSecretKey(name)) this.addCredential(value);
          else if (looksLikeCredential(value)) this.addCredential(value);
        }
        continue;
      }
      this.walk(x, secret || isSecretKey(k), depth + 1, seen);
    }
  }

  /** A header value: the whole value, and the credential after its scheme (`Bearer xyz` → `xyz`). */
  private addCredential(value: string): void {
    this.add(value);
    const m = /^\s*[A-Za-z-]+\s+(\S+)\s*$/.exec(value);
    if (m) this.add(m[1]);
  }

  private variants(json: boolean): string[] {
    const out = new Set<string>();
    for (const v of this.values) {
      const forms = [v, encodeURIComponent(v)];
      for (const f of forms) out.add(json ? jsonEscaped(f) : f);
    }
    // longest first, so that a secret containing another is replaced whole
    return [...out].sort((a, b) => b.length - a.length);
  }

  private pattern(json: boolean): RegExp | undefined {
    if (this.values.size === 0) return undefined;
    if (json) return (this.jsonPattern ??= new RegExp(this.variants(true).map(escapeRegExp).join('|'), 'g'));
    return (this.textPattern ??= new RegExp(this.variants(false).map(escapeRegExp).join('|'), 'g'));
  }

  /** Plain text (a message, CLI output) with every known secret and every credential-shaped part replaced by `***`. */
  text(s: string): string {
    const p = this.pattern(false);
    return redactText(p ? s.replace(p, REDACTED) : s);
  }

  /** Serialized JSON (a log line, an HTTP body) scrubbed like {@link text}, without breaking it. */
  json(s: string): string {
    const p = this.pattern(true);
    // a match that starts inside an escape sequence (after an odd run of backslashes) is not the secret
    const out = p ? s.replace(p, (m: string, at: number) => (oddBackslashesBefore(s, at) ? m : REDACTED)) : s;
    return redactText(out);
  }

  /**
   * The object of a log call with the value of every key that looks secret replaced by `***`, at
   * any depth (strings and numbers; objects and arrays under such a key lose their strings too).
   * Copies only what changes; Errors, Dates and other class instances pass as they are.
   */
  maskKeys<T>(value: T): T {
    return maskKeysAt(value, false, 0) as T;
  }

  /** A copy of a JSON-like value with every string scrubbed like {@link text} (keys and other values kept). */
  deep<T>(value: T): T {
    return this.deepAt(value, 0) as T;
  }

  private deepAt(v: unknown, depth: number): unknown {
    if (typeof v === 'string') return this.text(v);
    if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return v;
    if (Array.isArray(v)) return v.map((x) => this.deepAt(x, depth + 1));
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.deepAt(x, depth + 1);
    return out;
  }
}

function oddBackslashesBefore(s: string, at: number): boolean {
  let n = 0;
  for (let i = at - 1; i >= 0 && s.charCodeAt(i) === 92; i--) n++;
  return n % 2 === 1;
}

function maskKeysAt(v: unknown, secret: boolean, depth: number): unknown {
  if (secret && (typeof v === 'string' || typeof v === 'number')) return v === '' ? v : REDACTED;
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = maskKeysAt(v[i], secret, depth + 1);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  let out: Record<string, unknown> | undefined;
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const x0 = (v as Record<string, unknown>)[k];
    const x = maskKeysAt(x0, secret || isSecretKeyCached(k), depth + 1);
    if (x !== x0) (out ??= { ...(v as Record<string, unknown>) })[k] = x;
  }
  return out ?? v;
}

/**
 * A copy of a config tree fit to show (the effective config at debug, `redactConfig`): the value
 * of every key that looks secret is `***` at any depth (strings and numbers; an empty string stays
 * empty, so "not set" still shows), every URL is shown by {@link redactUrl}, and a header whose
 * name or value is a credential is `***`.
 */
export function redactTree<T>(tree: T): T {
  return maskAt(tree, false, 0) as T;
}

function maskAt(v: unknown, secret: boolean, depth: number): unknown {
  if (typeof v === 'string') {
    if (secret) return v === '' ? v : REDACTED;
    return isUrl(v) ? redactUrl(v) : redactText(v);
  }
  if (typeof v === 'number') return secret ? REDACTED : v;
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => maskAt(x, secret, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'headers' && x !== null && typeof x === 'object' && !Array.isArray(x)) {
      out[k] = Object.fromEntries(Object.entries(x).map(([name, value]) => [
        name,
        typeof value === 'string' && (secret || isSecretKey(name) || looksLikeCredential(value)) ? (value === '' ? value : REDACTED) : maskAt(value, secret, depth + 1),
      ]));
      continue;
    }
    out[k] = maskAt(x, secret || isSecretKey(k), depth + 1);
  }
  return out;
}
