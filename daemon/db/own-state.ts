/**
 * Heimdall's own state in the graph and who may write it (see ../sources/README.md, "Heimdall's own
 * nodes"). It lives here, beside the database router, because both sides need it: the neo4j-apoc outbox
 * (../sources/neo4j-apoc/) installs the guard and writes with the key, and the remediation executor
 * (write-transaction.ts) tells the guard's refusal from other failures.
 *
 * The outbox trigger (../sources/neo4j-apoc/outbox-trigger.ts) refuses, with apoc.util.validate in the `before` phase, every
 * transaction that deletes or changes a node with one of GUARDED_LABELS, removes one of those labels,
 * or creates or labels a node as an outbox entry, dead letter or counter (a forged entry would turn
 * into forged events) — unless the transaction metadata carries the install's **internal key**:
 * `{heimdallKey: <key>}`. Only the daemon's own internal writers send it (the OutboxStore's acks,
 * dead letters, install, uninstall and epoch bumps). The remediation executor's metadata
 * (`app: 'heimdall'` with plugin/action) does not, so statements that the model or a plugin wrote are
 * refused even when they do not name the labels (`MATCH (n) WHERE n.seq IS NOT NULL SET n.seq = 0`).
 *
 * The key is random per install (kept when the trigger is updated), passed to the trigger as an APOC
 * trigger parameter (`$key`) and never part of the statement text, so the statement is the same for
 * every install. A static marker would not do: `CALL tx.setMetaData({...})` replaces a transaction's
 * metadata from inside Cypher, so any marker a statement can know can be forged by it. Who can read
 * the trigger's parameters (apoc.trigger.list, an admin's right) can find the key; that is the
 * operator's escape hatch, and why untrusted statements must not call procedures.
 *
 * Audit mirror nodes are only ever created (daemon/audit), which the trigger allows without the key.
 */
import { randomBytes } from 'node:crypto';

export const OUTBOX_LABEL = 'HeimdallOutbox';
/** An entry whose JSON could not be decoded is relabelled to this (dead letter), with `failure` and `failedAt`. */
export const FAILED_LABEL = 'HeimdallOutboxFailed';
export const COUNTER_LABEL = 'HeimdallOutboxSeq';
/** The audit mirror's nodes (daemon/audit/audit-log.ts): created by the daemon, never changed. */
export const AUDIT_LABEL = 'HeimdallAudit';

/** Labels whose nodes nobody but the daemon may delete or change, or strip of the label. */
export const GUARDED_LABELS = [OUTBOX_LABEL, COUNTER_LABEL, FAILED_LABEL, AUDIT_LABEL] as const;
/** Labels nobody but the daemon may create a node with or add to a node (the audit mirror creates its nodes without the key). */
export const FORGEABLE_LABELS = [OUTBOX_LABEL, COUNTER_LABEL, FAILED_LABEL] as const;

/** The transaction-metadata key that carries the internal key. */
export const INTERNAL_KEY_FIELD = 'heimdallKey';
/** The trigger parameter that holds the internal key. */
export const KEY_PARAM = 'key';

/** The start of the trigger's refusal; found in the error a refused transaction gets. */
export const REFUSAL = "Heimdall refuses this transaction: it would delete or change Heimdall's own nodes";

/**
 * The refusal as apoc.util.validate formats it (String.format; %s is the list of labels it touched).
 * It names the fix for a person and says nothing that helps a statement get past it.
 */
export const REFUSAL_TEMPLATE =
  `${REFUSAL} (:%s). Those nodes are the change-capture outbox, its sequence, its dead letters and the audit mirror; ` +
  'only the Heimdall daemon writes them. Leave them out of the statement, e.g. MATCH (n) WHERE NOT any(l IN labels(n) WHERE l STARTS WITH \'Heimdall\'); ' +
  'to remove the outbox run `heimdall db uninstall --purge`.';

/** A new internal key: 24 random bytes, base64url. */
export function newInternalKey(): string {
  return randomBytes(24).toString('base64url');
}

/** A usable key from a trigger's parameters, or undefined (none, or not one Heimdall made). */
export function keyOf(params: unknown): string | undefined {
  const k = (params as Record<string, unknown> | null | undefined)?.[KEY_PARAM];
  return typeof k === 'string' && k.length >= 16 ? k : undefined;
}

/** Transaction metadata of the daemon's internal writes (Database.run adds `app: 'heimdall'`). */
export function internalMetadata(key: string | undefined): { outbox: 'ack'; heimdallKey?: string } {
  return { outbox: 'ack', ...(key ? { [INTERNAL_KEY_FIELD]: key } : {}) };
}

/** The message of the trigger's refusal in this error or its causes, if it is one. */
function refusalMessage(err: unknown): string | undefined {
  for (let e = err as { message?: unknown; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    if (typeof e.message === 'string' && e.message.includes(REFUSAL)) return e.message;
  }
  return undefined;
}

/** The error (or its cause) is the trigger refusing a transaction. */
export function isRefusal(err: unknown): boolean {
  return refusalMessage(err) !== undefined;
}

/** The labels the trigger's refusal names (`HeimdallOutboxSeq`, …), or undefined when the error is not its refusal. */
export function refusedLabels(err: unknown): string[] | undefined {
  const msg = refusalMessage(err);
  if (msg === undefined) return undefined;
  const m = msg.slice(msg.indexOf(REFUSAL) + REFUSAL.length).match(/^ \(:([^)]*)\)/);
  return m ? m[1]!.split(', :').filter(Boolean) : [];
}
