/**
 * The outbox's names and the Cypher of its APOC trigger (see ../README.md). The statements that
 * install, read, acknowledge and inspect the outbox are in outbox-store.ts.
 *
 * The trigger runs in the `before` phase, inside the writer's transaction: it turns APOC's
 * transaction-data parameters into ONE `(:HeimdallOutbox {seq, epoch, committedAt, txMeta, changes})` node
 * per transaction (nothing when the transaction changed nothing), so the
 * entry commits or rolls back with the user's changes.
 *
 * `changes` is a JSON string (apoc.convert.toJson) of this shape; ids are element ids:
 *
 *   nc  created nodes          [{i, l: labels, p: properties}]
 *   nd  deleted node ids       [i]            (labels in nlr, old properties in npr)
 *   nu  updated nodes' state   {i: {l, p}}    (after the transaction)
 *   npa node props assigned    [[i, key, old, new]]   (not for created nodes)
 *   npr node props removed     [[i, key, old]]        (every property of a deleted node too)
 *   nla labels added           [[i, label]]           (not for created nodes)
 *   nlr labels removed         [[i, label]]           (every label of a deleted node too)
 *   rc  created relationships  [{i, t: type, s: start id, e: end id, p}]
 *   rd  deleted relationships  [{i, t, s, e}]          (old properties in rpr)
 *   ru  updated relationships' state {i: {t, s, e, p}}
 *   rpa rel props assigned     [[i, key, old, new]]   (not for created relationships)
 *   rpr rel props removed      [[i, key, old]]        (every property of a deleted relationship too)
 *
 * `bytes` is the length of `changes` plus `txMeta`, so that readers and deletes can bound a batch by size.
 *
 * `seq` orders entries, `epoch` (from the counter node) tells sequences apart: an entry is identified by
 * (epoch, seq), and the event ids built from it (outbox-events.ts) never repeat.
 *
 * Heimdall's own nodes are never captured: a transaction that touches them is either the daemon's own
 * (it carries the internal key and leaves at the first lines) or refused by the guard (../../db/own-state.ts).
 */
import { AUDIT_LABEL, COUNTER_LABEL, FAILED_LABEL, FORGEABLE_LABELS, GUARDED_LABELS, INTERNAL_KEY_FIELD, KEY_PARAM, OUTBOX_LABEL, REFUSAL_TEMPLATE } from '../../db/own-state.js';

export { AUDIT_LABEL, COUNTER_LABEL, FAILED_LABEL, OUTBOX_LABEL };
export const COUNTER_NAME = 'outbox';
export const TRIGGER_NAME = 'heimdall_outbox';
export const SEQ_INDEX = 'heimdall_outbox_seq';
export const COUNTER_CONSTRAINT = 'heimdall_outbox_counter';
/** Strict sequence numbers stay below this; relaxed ones (epoch nanoseconds) are above it. */
export const RELAXED_SEQ_FLOOR = 1_000_000_000_000_000;

export type Ordering = 'strict' | 'relaxed';

/**
 * What writes the outbox entries: the APOC trigger (this file's statement), or the kernel transaction listener of
 * Heimdall's Neo4j extension (neo4j/src/main/java/heimdall/capture, installed with heimdall.capture.install): the same
 * entry, guard, internal key and heal, from Java instead of a Cypher statement evaluated per transaction.
 */
export type Capture = 'trigger' | 'listener';

/**
 * What the config asks for: one of them, or `auto` (the default): the capture already in place, else, on a database
 * with neither, the listener where the server runs Heimdall's extension and the trigger where it does not
 * (outbox-install.ts chooseCapture).
 */
export type CaptureChoice = Capture | 'auto';

/**
 * What stands for the listener where the trigger's statement is compared (install, watchdog, status): the listener's
 * settings as a procedure call. It never runs as Cypher.
 */
export const listenerStatement = (ordering: Ordering): string => `CALL heimdall.capture.install('${ordering}', $key)`;

/** The trigger statement, or the listener's stand-in, for this capture and ordering. */
export const captureStatement = (capture: Capture, ordering: Ordering): string =>
  capture === 'listener' ? listenerStatement(ordering) : triggerStatement(ordering);

/** A Cypher string literal. */
const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const list = (xs: readonly string[]): string => `[${xs.map(lit).join(', ')}]`;

/** The next epoch after `e`: the server clock in ms, or e + 1 when that is larger (epochs only grow). */
export const nextEpoch = (e: string): string => `CASE WHEN coalesce(${e}, 0) + 1 > timestamp() THEN coalesce(${e}, 0) + 1 ELSE timestamp() END`;

/** A map id -> true from a list of ids, for O(1) membership tests. */
const setOf = (ids: string): string => `apoc.map.fromLists(${ids}, [x IN ${ids} | true])`;

/**
 * Flattens an APOC map `key -> [entry]` into one list of tuples `[elementId, key, ...rest]`; each
 * element id is computed once and the tuples are then filtered with map lookups on it.
 */
const flat = (param: string, entity: string, rest: string): string =>
  `reduce(a = [], k IN keys(${param}) | a + [e IN ${param}[k] | [elementId(${entity}), k, ${rest}]])`;

/** Number of entries in an APOC map `key -> [entry]`. */
const total = (param: string): string => `reduce(s = 0, k IN keys(${param}) | s + size(${param}[k]))`;

/**
 * The trigger statement for one ordering mode. Both modes produce the same entry shape; they differ
 * in how `seq` is assigned (see README.md):
 *  - strict: `seq` comes from the counter node, incremented in the trigger. The increment write-locks
 *    the counter until the transaction has committed, so sequence order is commit order and a reader
 *    never sees seq N+1 before N.
 *  - relaxed: `seq` is the database server's wall clock in epoch nanoseconds; no shared lock.
 * Every entry carries the counter's `epoch` (see nextEpoch and the install), so event ids stay unique
 * when the sequence starts again.
 *
 * Before anything is captured, three steps:
 *  1. internal: the transaction carries the install's key ($key, a trigger parameter; ../../db/own-state.ts).
 *  2. heal: an internal transaction that lowers the counter bumps its epoch in the same transaction, so
 *     the seqs that come again get ids that did not exist before.
 *  3. guard: any other transaction that deletes or changes Heimdall's own nodes is refused
 *     (apoc.util.validate throws, the writer's transaction rolls back with REFUSAL_TEMPLATE).
 * Internal transactions then leave: they never capture anything.
 */
export function triggerStatement(ordering: Ordering): string {
  const L = OUTBOX_LABEL;
  const C = COUNTER_LABEL;
  const seq =
    ordering === 'strict'
      ? [
          // A missing counter (deleted with the key) starts again at 0 in a new epoch.
          `MERGE (c:${C} {name: '${COUNTER_NAME}'}) ON CREATE SET c.epoch = timestamp()`,
          `SET c.value = coalesce(c.value, 0) + 1`,
          `WITH c.value AS seq, coalesce(c.epoch, 0) AS epoch, md, ch`,
        ]
      : [
          `WITH datetime.realtime() AS now, md, ch`,
          `OPTIONAL MATCH (c:${C} {name: '${COUNTER_NAME}'})`,
          `WITH now.epochMillis * 1000000 + now.nanosecond % 1000000 AS seq, coalesce(c.epoch, 0) AS epoch, md, ch`,
        ];
  const guardMap = `{${GUARDED_LABELS.map((l) => `${l}: true`).join(', ')}}`;
  const relState = (r: string) => `t: type(${r}), s: elementId(startNode(${r})), e: elementId(endNode(${r}))`;
  return [
    `WITH coalesce($metaData.${INTERNAL_KEY_FIELD} = $${KEY_PARAM}, false) AS internal`,
    `FOREACH (c IN CASE WHEN internal THEN [e IN coalesce($assignedNodeProperties.value, []) WHERE e.old > e.new AND '${C}' IN labels(e.node) | e.node] ELSE [] END |`,
    `  SET c.epoch = ${nextEpoch('c.epoch')})`,
    `WITH internal WHERE NOT internal`,
    `WITH $metaData AS md,`,
    `     [n IN $createdNodes | [elementId(n), n]] AS cnE,`,
    `     [n IN $deletedNodes | elementId(n)] AS dIds,`,
    `     [r IN $createdRelationships | [elementId(r), r]] AS crE,`,
    `     [r IN $deletedRelationships | [elementId(r), r]] AS drE`,
    `WITH md, cnE, ${setOf('[x IN cnE | x[0]]')} AS cset, dIds, ${setOf('dIds')} AS dset,`,
    `     crE, ${setOf('[x IN crE | x[0]]')} AS crset, drE, ${setOf('[x IN drE | x[0]]')} AS drset,`,
    // Shortcut: when every assigned property/label belongs to a created node or relationship (a pure insert),
    // those entries are not even listed. A mismatch always takes the full path.
    `     reduce(s = 0, x IN cnE | s + size(keys(properties(x[1])))) = ${total('$assignedNodeProperties')} AS onlyNewNodeProps,`,
    `     reduce(s = 0, x IN cnE | s + size(labels(x[1]))) = ${total('$assignedLabels')} AS onlyNewLabels,`,
    `     reduce(s = 0, x IN crE | s + size(keys(properties(x[1])))) = ${total('$assignedRelationshipProperties')} AS onlyNewRelProps`,
    // Tuples: npa [id, key, old, new, node], npr [id, key, old, node], nla/nlr [id, label, node], rpa/rpr alike.
    `WITH md, cnE, dIds, dset, crE, drE, drset,`,
    `     CASE WHEN onlyNewNodeProps THEN [] ELSE [x IN ${flat('$assignedNodeProperties', 'e.node', 'e.old, e.new, e.node')} WHERE cset[x[0]] IS NULL AND dset[x[0]] IS NULL] END AS npaE,`,
    `     [x IN ${flat('$removedNodeProperties', 'e.node', 'e.old, e.node')} WHERE cset[x[0]] IS NULL] AS nprE,`,
    `     CASE WHEN onlyNewLabels THEN [] ELSE [x IN ${flat('$assignedLabels', 'e', 'e')} WHERE cset[x[0]] IS NULL AND dset[x[0]] IS NULL] END AS nlaE,`,
    `     [x IN ${flat('$removedLabels', 'e', 'e')}] AS nlrE,`,
    `     CASE WHEN onlyNewRelProps THEN [] ELSE [x IN ${flat('$assignedRelationshipProperties', 'e.relationship', 'e.old, e.new, e.relationship')} WHERE crset[x[0]] IS NULL AND drset[x[0]] IS NULL] END AS rpaE,`,
    `     [x IN ${flat('$removedRelationshipProperties', 'e.relationship', 'e.old, e.relationship')} WHERE crset[x[0]] IS NULL] AS rprE`,
    // Updated (not created, not deleted) entities, deduplicated by id: id -> entity.
    `WITH md, cnE, dIds, crE, drE, npaE, nprE, nlaE, nlrE, rpaE, rprE,`,
    `     [x IN nprE WHERE dset[x[0]] IS NULL] AS nprLive, [x IN nlrE WHERE dset[x[0]] IS NULL] AS nlrLive, [x IN rprE WHERE drset[x[0]] IS NULL] AS rprLive`,
    `WITH md, cnE, dIds, crE, drE, npaE, nprE, nlaE, nlrE, rpaE, rprE,`,
    `     apoc.map.fromLists([x IN npaE | x[0]] + [x IN nprLive | x[0]] + [x IN nlaE | x[0]] + [x IN nlrLive | x[0]], [x IN npaE | x[4]] + [x IN nprLive | x[3]] + [x IN nlaE | x[2]] + [x IN nlrLive | x[2]]) AS un,`,
    `     apoc.map.fromLists([x IN rpaE | x[0]] + [x IN rprLive | x[0]], [x IN rpaE | x[4]] + [x IN rprLive | x[3]]) AS ur`,
    // The guard: Heimdall's nodes deleted or unlabelled, outbox/counter/dead-letter nodes created or labelled, or any of them changed.
    // (One pass with map lookups over the updated nodes; which labels it hit is only worked out when one did.)
    `WITH md, cnE, dIds, crE, drE, npaE, nprE, nlaE, nlrE, rpaE, rprE, un, ur, ${guardMap} AS g`,
    `WITH md, cnE, dIds, crE, drE, npaE, nprE, nlaE, nlrE, rpaE, rprE, un, ur,`,
    `     [l IN ${list(GUARDED_LABELS)} WHERE size(coalesce($removedLabels[l], [])) > 0] +`,
    `     [l IN ${list(FORGEABLE_LABELS)} WHERE size(coalesce($assignedLabels[l], [])) > 0] +`,
    `     CASE WHEN any(i IN keys(un) WHERE any(l IN labels(un[i]) WHERE g[l] IS NOT NULL))`,
    `       THEN [l IN ${list(GUARDED_LABELS)} WHERE any(i IN keys(un) WHERE l IN labels(un[i]))] ELSE [] END AS hit`,
    `CALL apoc.util.validate(size(hit) > 0, ${lit(REFUSAL_TEMPLATE)}, [apoc.text.join(apoc.coll.toSet(hit), ', :')])`,
    `WITH md, {`,
    `  nc: [x IN cnE | {i: x[0], l: labels(x[1]), p: properties(x[1])}],`,
    `  nd: dIds,`,
    `  nu: apoc.map.fromLists(keys(un), [i IN keys(un) | {l: labels(un[i]), p: properties(un[i])}]),`,
    `  npa: [x IN npaE | x[0..4]],`,
    `  npr: [x IN nprE | x[0..3]],`,
    `  nla: [x IN nlaE | x[0..2]],`,
    `  nlr: [x IN nlrE | x[0..2]],`,
    `  rc: [x IN crE | {i: x[0], ${relState('x[1]')}, p: properties(x[1])}],`,
    `  rd: [x IN drE | {i: x[0], ${relState('x[1]')}}],`,
    `  ru: apoc.map.fromLists(keys(ur), [i IN keys(ur) | {${relState('ur[i]')}, p: properties(ur[i])}]),`,
    `  rpa: [x IN rpaE | x[0..4]],`,
    `  rpr: [x IN rprE | x[0..3]]`,
    `} AS ch`,
    `WHERE size(ch.nc) + size(ch.nd) + size(ch.npa) + size(ch.npr) + size(ch.nla) + size(ch.nlr) + size(ch.rc) + size(ch.rd) + size(ch.rpa) + size(ch.rpr) > 0`,
    // The JSON is built before the counter is locked (strict), so the lock is held as briefly as possible.
    `WITH apoc.convert.toJson(md) AS md, apoc.convert.toJson(ch) AS ch`,
    ...seq,
    `CREATE (:${L} {seq: seq, epoch: epoch, committedAt: timestamp(), txMeta: md, changes: ch, bytes: size(ch) + size(md)})`,
  ].join('\n');
}

/** Which mode a stored trigger statement was built for, or undefined when it is not one of ours. */
export function orderingOf(statement: string): Ordering | undefined {
  if (statement === triggerStatement('strict') || statement === listenerStatement('strict')) return 'strict';
  if (statement === triggerStatement('relaxed') || statement === listenerStatement('relaxed')) return 'relaxed';
  return undefined;
}

/** Which capture a statement (or the listener's stand-in) is, or undefined when it is not one of ours. */
export function captureOf(statement: string): Capture | undefined {
  if (statement === listenerStatement('strict') || statement === listenerStatement('relaxed')) return 'listener';
  return orderingOf(statement) ? 'trigger' : undefined;
}
