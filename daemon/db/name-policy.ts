/**
 * Which procedures and user-defined functions a statement from the model or a plugin may call.
 * Counters cannot see what a procedure does (apoc.cypher.doIt deletes inside the transaction and
 * reports nodesDeleted 0; apoc.periodic.iterate and apoc.nodes.delete commit on their own, so even
 * a rollback does not undo them), so every call is refused unless its name is allowed:
 *
 *   allowed  = (the built-in allowlist + remediation.allowProcedures / allowFunctions) − NEVER
 *
 * NEVER holds what commits its own transactions, runs Cypher from a string (which would hide
 * further calls from the screen), reads files or URLs, exports data, or administers the server or
 * its triggers or Heimdall's capture (heimdall.capture.uninstall would stop every event); config
 * cannot allow those. Patterns are globs (`*` any run of characters, dots
 * included; `?` one character), matched case-insensitively (Neo4j resolves procedure names
 * case-sensitively and built-in functions case-insensitively; matching without case never allows
 * more than the server runs).
 */

/** Read-only procedures the model and plugins may call (documented in the README, Remediation). */
export const READ_PROCEDURES: readonly string[] = [
  'db.labels',
  'db.relationshipTypes',
  'db.propertyKeys',
  'db.schema.nodeTypeProperties',
  'db.schema.relTypeProperties',
  'db.schema.visualization',
  'db.info',
  'db.ping',
  'db.index.fulltext.queryNodes',
  'db.index.fulltext.queryRelationships',
  'db.index.fulltext.listAvailableAnalyzers',
  'db.index.vector.queryNodes',
  'db.index.vector.queryRelationships',
  'apoc.meta.stats',
  'apoc.meta.schema',
  'apoc.meta.data',
  'apoc.meta.nodeTypeProperties',
  'apoc.meta.relTypeProperties',
];

/**
 * Namespaced functions that only compute (no Cypher from strings, no I/O, no writes). Cypher's own
 * functions without a namespace (count, size, toString, …) are always allowed.
 */
export const SAFE_FUNCTIONS: readonly string[] = [
  // Cypher's built-in namespaced functions
  'date.*',
  'datetime.*',
  'localdatetime.*',
  'localtime.*',
  'time.*',
  'duration.*',
  'point.*',
  'vector.similarity.*',
  // APOC functions that only compute on their arguments (or read the entities they are given)
  'apoc.coll.*',
  'apoc.text.*',
  'apoc.map.*',
  'apoc.convert.*',
  'apoc.date.*',
  'apoc.temporal.*',
  'apoc.number.*',
  'apoc.math.*',
  'apoc.agg.*',
  'apoc.hashing.*',
  'apoc.scoring.*',
  'apoc.bitwise.op',
  'apoc.util.md5',
  'apoc.util.sha1',
  'apoc.util.sha256',
  'apoc.util.sha384',
  'apoc.util.sha512',
  'apoc.util.validatePredicate',
  'apoc.meta.cypher.*',
  'apoc.meta.nodes.count',
  'apoc.node.*',
  'apoc.nodes.connected',
  'apoc.nodes.isDense',
  'apoc.nodes.relationship.types',
  'apoc.nodes.relationships.exist',
  'apoc.rel.*',
  'apoc.any.*',
  'apoc.label.exists',
  'apoc.path.combine',
  'apoc.path.create',
  'apoc.path.elements',
  'apoc.path.slice',
  'apoc.create.uuid*',
  'apoc.create.vNode',
  'apoc.create.vRelationship',
  'apoc.create.virtual.fromNode',
  'apoc.json.path',
  'apoc.diff.nodes',
  'apoc.schema.node.indexExists',
  'apoc.schema.node.constraintExists',
  'apoc.schema.relationship.indexExists',
  'apoc.schema.relationship.constraintExists',
];

/** Never allowed, whatever the config says: they commit on their own, hide Cypher, reach outside, or administer. */
export const NEVER_PROCEDURES: readonly string[] = [
  'apoc.periodic.*',
  'apoc.cypher.*',
  'apoc.do.*',
  'apoc.when',
  'apoc.case',
  'apoc.graph.fromCypher',
  'apoc.trigger.*',
  'apoc.custom.*',
  'apoc.load.*',
  'apoc.import.*',
  'apoc.export.*',
  'apoc.log.*',
  'apoc.systemdb.*',
  'apoc.config.*',
  'apoc.static.*',
  'apoc.nodes.delete',
  'apoc.util.sleep',
  'apoc.warmup.*',
  'dbms.*',
  'tx.*',
  'db.clearQueryCaches',
  'db.stats.*',
  'heimdall.*',
];

export const NEVER_FUNCTIONS: readonly string[] = ['apoc.cypher.*', 'apoc.custom.*', 'custom.*', 'apoc.static.*', 'apoc.trigger.*', 'apoc.load.*', 'apoc.xml.*', 'apoc.data.url', 'graph.*'];

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

class GlobSet {
  private readonly res: Array<{ glob: string; re: RegExp }>;
  constructor(globs: readonly string[]) {
    this.res = globs.map((g) => ({ glob: g, re: globToRegExp(g) }));
  }
  match(name: string): string | undefined {
    return this.res.find((r) => r.re.test(name))?.glob;
  }
}

export type NameVerdict = { allowed: true } | { allowed: false; why: string };

export interface NamePolicyConfig {
  allowProcedures?: readonly string[];
  allowFunctions?: readonly string[];
}

export class NamePolicy {
  private readonly procedures: GlobSet;
  private readonly functions: GlobSet;
  private readonly neverProcedures = new GlobSet(NEVER_PROCEDURES);
  private readonly neverFunctions = new GlobSet(NEVER_FUNCTIONS);
  /** Config entries that NEVER overrides (reported once at start-up). */
  readonly ignored: string[];

  constructor(cfg: NamePolicyConfig = {}) {
    const extraP = cfg.allowProcedures ?? [];
    const extraF = cfg.allowFunctions ?? [];
    this.procedures = new GlobSet([...READ_PROCEDURES, ...extraP]);
    this.functions = new GlobSet([...SAFE_FUNCTIONS, ...extraF]);
    // An entry is ignored where it could only allow what NEVER holds (checked on the pattern's own text).
    this.ignored = [
      ...extraP.filter((g) => this.neverProcedures.match(g.replace(/\*/g, 'x')) !== undefined).map((g) => `remediation.allowProcedures: ${g}`),
      ...extraF.filter((g) => this.neverFunctions.match(g.replace(/\*/g, 'x')) !== undefined).map((g) => `remediation.allowFunctions: ${g}`),
    ];
  }

  procedure(name: string): NameVerdict {
    const never = this.neverProcedures.match(name);
    if (never) return { allowed: false, why: `the procedure ${name} is never allowed (${never}: it commits its own transactions, runs Cypher from a string, reaches files, URLs or the server's administration, or exports data, so its effect cannot be judged)` };
    if (this.procedures.match(name)) return { allowed: true };
    return { allowed: false, why: `the procedure ${name} is not on the allowlist of read procedures (remediation.allowProcedures extends it)` };
  }

  function(name: string): NameVerdict {
    const never = this.neverFunctions.match(name);
    if (never) return { allowed: false, why: `the function ${name} is never allowed (${never}: it runs Cypher from a string or reaches outside the graph)` };
    if (this.functions.match(name)) return { allowed: true };
    return { allowed: false, why: `the function ${name} is not on the allowlist of functions that only compute (remediation.allowFunctions extends it)` };
  }
}
