/**
 * The commit guard as an APOC trigger (`heimdall_policy`, phase `before`, so it runs inside the
 * writer's transaction and its failure rolls the transaction back) that judges the remediation
 * executor's transactions by what they really changed — APOC's transaction data, which sees what
 * a statement's counters miss (apoc.cypher.doIt and apoc.do.when delete inside the transaction
 * and report nodesDeleted 0). It acts only on transactions whose metadata carries
 * `heimdallPolicy` (which neither the model nor a plugin can set: tx.setMetaData is never allowed),
 * and have no `engine` in it (those marked `engine: 'extension'` are judged by the same guard in Heimdall's
 * Neo4j extension, neo4j/src/main/java/heimdall/capture/PolicyGuard.java), and leaves every other
 * transaction at its first line:
 *
 *   { maxNodesDeleted, maxRelationshipsDeleted, maxLabelsRemoved }
 *       fail the commit when the transaction deleted or unlabelled more than that, or touched a
 *       node with a Heimdall* label (its outbox, sequence, audit mirror);
 *   { probe: true, sample: n }
 *       always fail, after serialising what the transaction would delete (counts and the first n
 *       nodes and relationships with their labels, type and properties) into the error message:
 *       the sample an operator is shown before approving a delete. Nothing commits.
 *
 * The message is `HEIMDALL_POLICY<<{json}>>`, thrown through apoc.util.validate; parseGuardError
 * reads it back. Without APOC triggers (apoc.trigger.enabled=false, no admin rights) the executor
 * judges by counters alone and asks without a sample. commit-guard.ts installs it (or finds the
 * extension's); remove it with `CALL apoc.trigger.drop('<database>', 'heimdall_policy')` on the system
 * database.
 */

export const POLICY_TRIGGER = 'heimdall_policy';
const MARK = 'HEIMDALL_POLICY<<';
const END = '>>HEIMDALL_POLICY';

/** Most characters of one property value in a sample (as JSON). */
const VALUE_CHARS = 200;
/** Most properties of one entity in a sample. */
const PROPS_PER_ENTITY = 20;

export const POLICY_TRIGGER_STATEMENT = [
  `WITH $metaData.heimdallPolicy AS p WHERE p IS NOT NULL AND p.engine IS NULL`,
  `WITH p, [n IN $deletedNodes | elementId(n)] AS dIds`,
  `WITH p, dIds, apoc.map.fromLists(dIds, [x IN dIds | true]) AS dset`,
  `WITH p, dIds, dset,`,
  `  reduce(s = 0, k IN keys($removedLabels) | s + size([x IN $removedLabels[k] WHERE dset[elementId(x)] IS NULL])) AS labelsRemoved,`,
  `  [k IN keys($assignedLabels) + keys($removedLabels) WHERE k STARTS WITH 'Heimdall'] AS ownLabels,`,
  `  any(k IN keys($assignedNodeProperties) WHERE any(e IN $assignedNodeProperties[k] WHERE dset[elementId(e.node)] IS NULL AND any(l IN labels(e.node) WHERE l STARTS WITH 'Heimdall'))) OR`,
  `  any(k IN keys($removedNodeProperties) WHERE any(e IN $removedNodeProperties[k] WHERE dset[elementId(e.node)] IS NULL AND any(l IN labels(e.node) WHERE l STARTS WITH 'Heimdall'))) AS ownProps`,
  `WITH p, dIds, labelsRemoved, ownLabels, ownProps OR size(ownLabels) > 0 AS own, size($deletedRelationships) AS relsDeleted`,
  `WHERE coalesce(p.probe, false) OR own OR size(dIds) > p.maxNodesDeleted OR relsDeleted > p.maxRelationshipsDeleted OR labelsRemoved > p.maxLabelsRemoved`,
  `WITH p, dIds, labelsRemoved, ownLabels, own, relsDeleted, toInteger(coalesce(p.sample, 10)) AS ss`,
  `WITH p, dIds, labelsRemoved, ownLabels, own, relsDeleted, dIds[0..ss] AS sn, [r IN $deletedRelationships[0..ss] | {id: elementId(r), type: type(r), start: elementId(startNode(r)), end: elementId(endNode(r))}] AS rels`,
  `WITH p, dIds, labelsRemoved, ownLabels, own, relsDeleted, sn, rels, apoc.map.fromLists(sn, [x IN sn | true]) AS snset, apoc.map.fromLists([x IN rels | x.id], [x IN rels | true]) AS srset`,
  `WITH p, dIds, labelsRemoved, ownLabels, own, relsDeleted, sn, rels,`,
  `  reduce(a = [], k IN keys($removedLabels) | a + [x IN $removedLabels[k] WHERE snset[elementId(x)] IS NOT NULL | [elementId(x), k]]) AS labs,`,
  `  reduce(a = [], k IN keys($removedNodeProperties) | a + [e IN $removedNodeProperties[k] WHERE snset[elementId(e.node)] IS NOT NULL | [elementId(e.node), k, substring(apoc.convert.toJson(e.old), 0, ${VALUE_CHARS})]]) AS props,`,
  `  reduce(a = [], k IN keys($removedRelationshipProperties) | a + [e IN $removedRelationshipProperties[k] WHERE srset[elementId(e.relationship)] IS NOT NULL | [elementId(e.relationship), k, substring(apoc.convert.toJson(e.old), 0, ${VALUE_CHARS})]]) AS rprops`,
  `CALL apoc.util.validate(true, '${MARK}%s${END}', [apoc.convert.toJson({`,
  `  probe: coalesce(p.probe, false), heimdallState: own, heimdallLabels: ownLabels,`,
  `  nodesDeleted: size(dIds), relationshipsDeleted: relsDeleted, labelsRemoved: labelsRemoved,`,
  `  nodes: [i IN sn | {id: i, labels: [x IN labs WHERE x[0] = i | x[1]], properties: apoc.map.fromPairs([x IN props WHERE x[0] = i | [x[1], x[2]]][0..${PROPS_PER_ENTITY}])}],`,
  `  relationships: [r IN rels | r {.*, properties: apoc.map.fromPairs([x IN rprops WHERE x[0] = r.id | [x[1], x[2]]][0..${PROPS_PER_ENTITY}])}]`,
  `})])`,
  `RETURN 0`,
].join('\n');

/** A deleted entity as the guard saw it; property values are JSON text cut at 200 characters (parsed back where whole). */
export interface SampledNode {
  id: string;
  labels: string[];
  properties: Record<string, unknown>;
}
export interface SampledRelationship {
  id: string;
  type: string;
  start: string;
  end: string;
  properties: Record<string, unknown>;
}

/** What the guard reported when it failed a commit. */
export interface GuardReport {
  probe: boolean;
  heimdallState: boolean;
  heimdallLabels: string[];
  nodesDeleted: number;
  relationshipsDeleted: number;
  labelsRemoved: number;
  nodes: SampledNode[];
  relationships: SampledRelationship[];
}

/** The limits of one guarded transaction, as its metadata carries them. */
export interface GuardLimits {
  maxNodesDeleted?: number;
  maxRelationshipsDeleted?: number;
  maxLabelsRemoved?: number;
}

const reparse = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return `${v}…`;
  }
};

/** The guard's report from a failed commit, or undefined when the error is something else. */
export function parseGuardError(err: unknown): GuardReport | undefined {
  const msg = (err as Error | undefined)?.message;
  if (typeof msg !== 'string') return undefined;
  const a = msg.indexOf(MARK);
  const b = msg.lastIndexOf(END);
  if (a < 0 || b < a) return undefined;
  try {
    const r = JSON.parse(msg.slice(a + MARK.length, b)) as GuardReport;
    for (const n of r.nodes ?? []) n.properties = Object.fromEntries(Object.entries(n.properties ?? {}).map(([k, v]) => [k, reparse(v)]));
    for (const x of r.relationships ?? []) x.properties = Object.fromEntries(Object.entries(x.properties ?? {}).map(([k, v]) => [k, reparse(v)]));
    return { probe: r.probe === true, heimdallState: r.heimdallState === true, heimdallLabels: r.heimdallLabels ?? [], nodesDeleted: Number(r.nodesDeleted ?? 0), relationshipsDeleted: Number(r.relationshipsDeleted ?? 0), labelsRemoved: Number(r.labelsRemoved ?? 0), nodes: r.nodes ?? [], relationships: r.relationships ?? [] };
  } catch {
    return undefined;
  }
}

/** The in-transaction check that the APOC guard is loaded, unpaused and ours (run before a probe commits). */
export const GUARD_LOADED_CYPHER = 'CALL apoc.trigger.list() YIELD name, query, paused WHERE name = $name RETURN query, paused';
