/**
 * The small interfaces the invoker needs from the database side (daemon/db, built separately).
 * The invoker works without any of them: the heimdall.db.* built-ins then answer success:false
 * saying no database is configured, and remediation is refused with a reason. daemon.ts attaches
 * the real implementations with {@link Invoker.attach} when the database router exists.
 */
import type { ActionTrigger, ErrorCode, Row } from '../../sdk/index.js';

/** Token usage of the model calls of one invocation. */
export interface ModelUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ReadOptions {
  database?: string;
  /** Transaction timeout: the deadline the driver and the server enforce. */
  timeoutMs?: number;
  maxRows?: number;
  /** Most bytes of JSON rows kept; the reader stops at the first row past it. */
  maxBytes?: number;
  signal?: AbortSignal;
  invocationId?: string;
  /** Subject of refusal messages ("The query", "heimdall.db.query"). */
  what?: string;
}

/** A streamed read: the rows kept, why it stopped early (if it did), and their size. */
export interface ReadResult {
  rows: Row[];
  /** 'rows': more rows than maxRows; 'bytes': the next row would pass maxBytes; false: all rows. */
  truncated: false | 'rows' | 'bytes';
  bytes: number;
}

/**
 * Runs one read-only Cypher statement: checked by the statement policy for reading (refusals throw
 * StatementRefusedError, writes ReadOnlyError), then streamed from a READ transaction and cut at
 * maxRows / maxBytes.
 */
export interface CypherReader {
  query(cypher: string, params: Record<string, unknown>, opts: ReadOptions): Promise<ReadResult>;
  /** The rows of `query` (no byte cap unless one is given). */
  read(cypher: string, params: Record<string, unknown>, opts: ReadOptions): Promise<Row[]>;
}

/** What EXPLAIN says a statement does. */
export type StatementKind = 'read' | 'read-write' | 'write' | 'schema';

export interface StatementClassification {
  kind: StatementKind;
  /** True when the plan deletes nodes or relationships. */
  deletes?: boolean;
  /** Anything else the classifier wants an operator to see (plan operators, notifications). */
  details?: Record<string, unknown>;
}

/** Who proposed a remediation and why; passed to the executor with every call. */
export interface RemediationContext {
  invocationId: string;
  /** The plugin on whose behalf it runs (the prompt's plugin, or the plugin that called). */
  plugin?: string;
  /** The action that carries the proposal ('heimdall.remediate.cypher' or a destructive action). */
  action: string;
  /** 'model' when the language model asked for it as a tool call. */
  proposedBy: 'model' | 'plugin' | 'operator';
  trigger: ActionTrigger;
  /** The reason the proposer gave. */
  reason?: string;
  /** Logical database; the executor's default when absent. */
  database?: string;
  /** Model tokens spent so far by the invocation (for the audit log). */
  usage?: ModelUsage;
  signal?: AbortSignal;
}

/** What the executor did with a statement or an action. */
export interface RemediationOutcome {
  /** executed: it ran. dry-run: published, not run. denied: an operator or the policy said no. */
  status: 'executed' | 'dry-run' | 'denied';
  /** One sentence for the model and the operator. */
  message: string;
  classification?: StatementClassification;
  rows?: Row[];
  /** Update counters of an executed statement. */
  counters?: Record<string, number>;
  /** True when the executor already published the proposal on Bifrost (the invoker then does not). */
  published?: boolean;
  /** The error code of a refusal (default HMD_ERR_POLICY_DENIED). */
  code?: ErrorCode;
  /** Why a statement was refused before it ran: the rule and the name it concerns. */
  refusal?: { rule: string; name?: string };
  /** What an approval was asked with: the counters of the probe and, where the commit guard is loaded, a sample of what would be deleted. */
  approval?: Record<string, unknown>;
}

/** Decision on a destructive plugin action (the action itself runs in the plugin's worker). */
export interface ActionAuthorization {
  status: 'allowed' | 'dry-run' | 'denied';
  message: string;
}

/**
 * The remediation executor (daemon/db). `classify` runs EXPLAIN; `execute` applies the
 * remediation policy (auto | approve | dry-run) and runs, publishes or refuses the statement;
 * both may throw PolicyDeniedError. `authorizeAction` is optional: without it the invoker applies
 * `remediation.mode` itself to destructive actions the model asks for.
 */
export interface RemediationExecutor {
  classify(statement: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<StatementClassification>;
  execute(statement: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<RemediationOutcome>;
  authorizeAction?(action: string, params: Record<string, unknown>, ctx: RemediationContext): Promise<ActionAuthorization>;
}

/** A compact description of the graph for the model. */
export interface SchemaSummary {
  labels: Array<{ label: string; count?: number }>;
  relationshipTypes: Array<{ type: string; count?: number }>;
  propertyKeys: string[];
  indexes: Array<{ name: string; type?: string; entity?: string; labelsOrTypes?: string[]; properties?: string[]; state?: string }>;
  constraints: Array<{ name: string; type?: string; entity?: string; labelsOrTypes?: string[]; properties?: string[] }>;
  nodeCount?: number;
  relationshipCount?: number;
  /** ISO time of the read. */
  fetchedAt: string;
}

/** Reads the schema summary (the invoker caches it and refreshes it on a timer). */
export interface SchemaProvider {
  schema(opts: { signal?: AbortSignal }): Promise<SchemaSummary>;
}

/** One entry of the audit trail: what the model proposed and what ran. */
export interface InvocationAuditEntry {
  type:
    | 'prompt.completed'
    | 'model.tool_call'
    | 'remediation.executed'
    | 'remediation.dry_run'
    | 'remediation.denied'
    | 'remediation.refused'
    | 'query.refused'
    | 'action.executed';
  invocationId: string;
  plugin?: string;
  action?: string;
  params?: Record<string, unknown>;
  statement?: string;
  reason?: string;
  classification?: StatementClassification;
  success?: boolean;
  message?: string;
  usage?: ModelUsage;
  model?: string;
  /** Why a statement was refused before it ran. */
  refusal?: { rule: string; name?: string };
  /** The counters of the committed transaction (or of the refused run). */
  counters?: Record<string, number>;
}

/** Where audit entries go: the durable audit log of daemon/audit when attached, the daemon log otherwise. */
export interface AuditSink {
  append(entry: InvocationAuditEntry): void | Promise<void>;
}

/** Asks an operator (Bifrost confirmations); resolves false on denial or deadline. */
export interface ConfirmationRequester {
  request(plugin: string, action: string, opts: { timeoutMs?: number; details?: Record<string, unknown> }, invocationId?: string): Promise<boolean>;
}

/** Everything daemon.ts may attach to the invoker after construction. */
export interface InvokerAttachments {
  reader?: CypherReader;
  schema?: SchemaProvider;
  executor?: RemediationExecutor;
  audit?: AuditSink;
  confirmations?: ConfirmationRequester;
}
