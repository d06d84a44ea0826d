/**
 * What counts as a secret, by its shape: key names that look secret (`password`, `token`,
 * `apiKey`, `secret`, `authorization`, …), the credential parts of a URL (the password of its
 * userinfo, secret-looking query parameters, path segments that look like tokens) and credentials
 * after an auth scheme (`Bearer …`). These work on any text, without knowing the config; the
 * exact values of the loaded config are scrubbed by secret-scrubber.ts, which builds on this.
 *
 * Everything hidden is replaced by {@link REDACTED}.
 */

/** What replaces a redacted value. */
export const REDACTED = '***';

/** A key name as lower-case words joined by `_`: `apiKey`, `API-Key` and `api_key` are all `api_key`. */
function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
}

const SECRET_WORD = /(^|_)(pass|passwd|password|passwords|passphrase|pwd|token|tokens|secret|secrets|credential|credentials|authorization|cookie|cookies|signature|apikey|api_?keys?)(_|$)/;
const SECRET_PAIR = /(^|_)(api|access|private|secret|signing|client|auth|session|encryption|master)_key(s)?(_|$)/;
/** Keys that name a secret but hold something else: a limit, a file, a name (maxTokens, tokenFile). */
const NOT_A_SECRET = /(^|_)(max|min|count|limit|budget|timeout|ms|size|length|ttl|file|path|dir|enabled|type|name|names|header|url|uri|endpoint|env|expires|expiry|at)(_|$)/;

/** True for a key whose value is a secret: password, dbPass, token, apiKey, x-api-key, clientSecret, Authorization, … (not maxTokens, tokenFile). */
export function isSecretKey(name: string): boolean {
  const w = words(name);
  return (SECRET_WORD.test(w) || SECRET_PAIR.test(w)) && !NOT_A_SECRET.test(w);
}

/** True for a query parameter that carries a credential: every secret key, plus key, sig and auth. */
export function isSecretQueryName(name: string): boolean {
  let n = name;
  try {
    n = decodeURIComponent(name);
  } catch {
    // keep the raw name
  }
  return /^(key|sig|auth|code_verifier)$/i.test(n) || isSecretKey(n);
}

/**
 * True for a URL path segment or a header value that looks like a token rather than a word:
 * at least 16 characters of [A-Za-z0-9_-.~], with letters and digits, and either both letter
 * cases or at least 32 characters (a Slack or Discord webhook token, an API key; not
 * `gpt-4o-mini-2024-07-18` or `v1`).
 */
export function looksLikeToken(s: string): boolean {
  if (s.length < 16 || !/^[A-Za-z0-9_\-.~]+$/.test(s) || !/[0-9]/.test(s) || !/[A-Za-z]/.test(s)) return false;
  return s.length >= 32 || (/[a-z]/.test(s) && /[A-Z]/.test(s));
}

/** An auth scheme followed by a credential: `Bearer sk-…`, `Basic dXNl…` (the credential has a non-letter, so "basic authentication" is prose). */
const AUTH_SCHEME = /\b(bearer|basic|token|digest|apikey)(\s+)([A-Za-z0-9._~+/=-]{8,})/gi;

/** True for a header value that is a credential whatever the header's name: `Bearer …`, or a token. */
export function looksLikeCredential(value: string): boolean {
  AUTH_SCHEME.lastIndex = 0;
  const m = AUTH_SCHEME.exec(value);
  return (m !== null && m.index === 0 && /[^A-Za-z]/.test(m[3]!)) || looksLikeToken(value.trim());
}

/** scheme://authority path ?query #fragment, split without the URL parser (templated or odd URLs parse too). */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/is;

interface UrlPiece {
  /** The text shown instead. */
  shown: string;
  /** The credentials it hid. */
  hidden: string[];
}

function redactParams(part: string, lead: string, hidden: string[]): string {
  return lead + part.slice(1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return pair;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (value === '' || value === REDACTED || !isSecretQueryName(name)) return pair;
    hidden.push(value);
    return `${name}=${REDACTED}`;
  }).join('&');
}

function splitUrl(url: string): UrlPiece {
  const m = URL_PARTS.exec(url);
  if (!m) return { shown: url, hidden: [] };
  const [, scheme, authority, path, query, fragment] = m as unknown as [string, string, string, string, string | undefined, string | undefined];
  const hidden: string[] = [];
  let auth = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0 && colon < userinfo.length - 1 && userinfo.slice(colon + 1) !== REDACTED) {
      hidden.push(userinfo.slice(colon + 1));
      auth = `${userinfo.slice(0, colon)}:${REDACTED}${authority.slice(at)}`;
    } else if (colon < 0 && looksLikeToken(userinfo)) {
      hidden.push(userinfo);
      auth = `${REDACTED}${authority.slice(at)}`;
    }
  }
  const shownPath = path.split('/').map((seg) => {
    if (!looksLikeToken(seg)) return seg;
    hidden.push(seg);
    return REDACTED;
  }).join('/');
  const shownQuery = query ? redactParams(query, '?', hidden) : '';
  const shownFragment = fragment && fragment.includes('=') ? redactParams(fragment, '#', hidden) : (fragment ?? '');
  return { shown: `${scheme}${auth}${shownPath}${shownQuery}${shownFragment}`, hidden };
}

/**
 * A configured URL fit to show: the password of its userinfo, the values of secret-looking query
 * parameters and path segments that look like tokens are replaced by `***`
 * (`bolt://neo4j:***@db:7687`, `https://hooks.slack.com/services/T0/B0/***`, `https://x/v1?api_key=***`).
 */
export function redactUrl(url: string): string {
  return splitUrl(url).shown;
}

/** The credentials {@link redactUrl} hides in `url`, as written (and percent-decoded when that differs). */
export function urlSecrets(url: string): string[] {
  const out = new Set<string>();
  for (const h of splitUrl(url).hidden) {
    out.add(h);
    try {
      out.add(decodeURIComponent(h));
    } catch {
      // not percent-encoded
    }
  }
  return [...out];
}

/** True for text that is a URL with a scheme (`bolt://…`, `https://…`). */
export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(s);
}

// Stop characters: whitespace, quotes, angle brackets and the backslash, so that the patterns
// work on JSON text too and never cut an escape sequence.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:"'<>\\]*):([^\s/?#@"'<>\\]+)@/gi;
const QUERY_PARAM = /([?&])([^\s=&#?"'<>\\]{1,64})=([^&#\s"'<>\\]*)/g;

/**
 * Free text with the credentials it shows by their shape replaced by `***`: the password in
 * `scheme://user:password@`, secret query parameters (`?token=…`, `&api_key=…`, `?sig=…`) and
 * the credential after an auth scheme (`Bearer …`). Cheap when there is nothing to hide.
 */
export function redactText(text: string): string {
  let s = text;
  if (s.includes('://')) {
    s = s.replace(USERINFO, (all, head: string, pass: string) => (pass.startsWith(REDACTED) ? all : `${head}:${REDACTED}@`));
  }
  if (s.includes('=') && (s.includes('?') || s.includes('&'))) {
    // a value that starts with *** was scrubbed already (a known secret followed by text such as ':')
    s = s.replace(QUERY_PARAM, (all, lead: string, name: string, value: string) => (value === '' || value.startsWith(REDACTED) || !isSecretQueryName(name) ? all : `${lead}${name}=${REDACTED}`));
  }
  if (/bearer|basic|token|digest|apikey/i.test(s)) {
    s = s.replace(AUTH_SCHEME, (all, scheme: string, gap: string, cred: string) => (/[^A-Za-z]/.test(cred) ? `${scheme}${gap}${REDACTED}` : all));
  }
  return s;
}
