/**
 * Filters of Bifrost messages (SSE clients, the polling endpoint, sinks): a minimum level, a set
 * of plugins and a set of kinds. An unset filter matches everything. Levels rank
 * info < success < warning < error (the order of NOTIFICATION_LEVELS in the SDK).
 */
import { NOTIFICATION_LEVELS, type NotificationLevel } from '../../sdk/index.js';
import type { BifrostKind, BifrostMessage } from './message.js';

export const BIFROST_KINDS: readonly BifrostKind[] = ['message', 'notification', 'broadcast', 'confirmation_request', 'confirmation_result'];

/** The name `plugin` filters use for the daemon's own notices. */
export const DAEMON_ORIGIN = 'daemon';

const RANK: Record<NotificationLevel, number> = Object.fromEntries(NOTIFICATION_LEVELS.map((l, i) => [l, i])) as Record<NotificationLevel, number>;

export function levelRank(level: NotificationLevel): number {
  return RANK[level] ?? 0;
}

export interface BifrostFilter {
  /** At or above this level. */
  level?: NotificationLevel;
  /** Origin plugins; 'daemon' matches the daemon's own notices, 'operator' the operator's. */
  plugins?: readonly string[];
  kinds?: readonly BifrostKind[];
}

/** The name a message's origin goes by in `plugin` filters and on screen. */
export function originName(m: BifrostMessage): string {
  return m.origin.plugin ?? (m.origin.kind === 'plugin' ? 'plugin' : m.origin.kind);
}

/** Compiles a filter into a predicate; undefined when the filter lets everything through. */
export function compileFilter(f: BifrostFilter | undefined): ((m: BifrostMessage) => boolean) | undefined {
  if (!f) return undefined;
  const min = f.level === undefined ? 0 : levelRank(f.level);
  const plugins = f.plugins && f.plugins.length > 0 ? new Set(f.plugins) : undefined;
  const kinds = f.kinds && f.kinds.length > 0 ? new Set<string>(f.kinds) : undefined;
  if (min === 0 && !plugins && !kinds) return undefined;
  return (m) =>
    (min === 0 || levelRank(m.level) >= min) &&
    (!plugins || plugins.has(originName(m))) &&
    (!kinds || kinds.has(m.kind));
}

export function matches(f: BifrostFilter | undefined, m: BifrostMessage): boolean {
  const p = compileFilter(f);
  return p === undefined || p(m);
}

/** Splits "a,b, c" (or repeated query values) into names; empty parts are ignored. */
export function splitList(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  const parts = typeof v === 'string' ? [v] : v;
  return parts.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
}

/**
 * Builds a filter from query-style values. Returns the problem as a sentence instead of throwing,
 * so that the HTTP layer and the CLI can each report it their own way.
 */
export function parseFilter(q: { level?: string | readonly string[]; plugin?: string | readonly string[]; kind?: string | readonly string[] }):
  { ok: true; filter: BifrostFilter } | { ok: false; message: string } {
  const filter: BifrostFilter = {};
  const levels = splitList(q.level);
  if (levels.length > 1) return { ok: false, message: `level takes one value (the lowest level to show), not ${levels.join(', ')}; use one of ${NOTIFICATION_LEVELS.join(', ')}.` };
  if (levels.length === 1) {
    const l = levels[0]!.toLowerCase() === 'warn' ? 'warning' : levels[0]!.toLowerCase();
    if (!NOTIFICATION_LEVELS.includes(l as NotificationLevel)) {
      return { ok: false, message: `level "${levels[0]}" is not a Bifrost level; use one of ${NOTIFICATION_LEVELS.join(', ')} (each shows that level and those above it).` };
    }
    filter.level = l as NotificationLevel;
  }
  const plugins = splitList(q.plugin);
  if (plugins.length > 0) filter.plugins = plugins;
  const kinds = splitList(q.kind);
  for (const k of kinds) {
    if (!BIFROST_KINDS.includes(k as BifrostKind)) return { ok: false, message: `kind "${k}" is not a Bifrost message kind; use one or more of ${BIFROST_KINDS.join(', ')} (comma-separated).` };
  }
  if (kinds.length > 0) filter.kinds = kinds as BifrostKind[];
  return { ok: true, filter };
}
