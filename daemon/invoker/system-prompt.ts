/**
 * The system prompt of a tool-loop prompt: role and rules, the remediation policy, the action
 * catalogue, a compact schema summary, and what triggered the call with the caller's context.
 * It is kept inside llm.contextTokenBudget (system prompt + user prompt + tool definitions):
 * the caller's context goes first (oldest items first), then schema detail, then catalogue
 * detail. The user prompt is never trimmed.
 */
import type { ActionTrigger } from '../../sdk/index.js';
import type { ActionInfo } from './action-registry.js';
import { estimateTokens, fitContext } from './context-budget.js';
import type { SchemaSummary } from './seams.js';

export interface SystemPromptInput {
  actions: readonly ActionInfo[];
  /** Tool name per action in native mode; absent in JSON mode. */
  toolName?: (action: string) => string | undefined;
  jsonMode: boolean;
  schema: SchemaSummary | undefined;
  /** Why there is no schema (no database, read failed). */
  schemaNote?: string;
  trigger: ActionTrigger;
  context: unknown;
  remediation: { mode: 'auto' | 'approve' | 'dry-run'; allowSchema: boolean; autoApproveDestructive: boolean; executor: boolean };
  /** Whether heimdall.db.schema / heimdall.db.query can reach a database. */
  database: boolean;
  userPrompt: string;
  /** Estimated tokens of the tool definitions sent beside the messages. */
  toolTokens: number;
  budget: number;
}

export interface SystemPrompt {
  text: string;
  /** Estimated tokens of system prompt + user prompt + tool definitions. */
  tokens: number;
  trimmed: { contextItems: number; contextCut: boolean; schema: 'full' | 'compact' | 'omitted'; catalogue: 'full' | 'names' };
  overBudget: boolean;
}

const POLICY: Record<'auto' | 'approve' | 'dry-run', string> = {
  auto: 'auto — remediation runs at once and is audited; statements that delete and destructive actions need an operator\'s approval',
  approve: 'approve — an operator must approve each remediation on Bifrost before it runs; a denial is final, do not retry it',
  'dry-run': 'dry-run — remediation is published to operators for review and never runs; report what you proposed',
};

function header(i: SystemPromptInput): string {
  const lines = [
    'You are the database assistant of Heimdall, a daemon beside a Neo4j graph database. You help operators and plugins understand database activity and repair data.',
    'Rules:',
    '- Use the actions to look things up or act; never invent query results or claim an action ran when it did not.',
    i.database
      ? '- heimdall.db.schema describes the graph; heimdall.db.query runs read-only Cypher (use $parameters, keep results small with LIMIT). It only reads the graph: LOAD CSV, procedures and functions that are not on its allowlist, and commands other than SHOW INDEXES and SHOW CONSTRAINTS are refused.'
      : '- No database is reachable through Heimdall right now, so you cannot read the graph; work from the context you are given.',
    i.remediation.executor
      ? "- To change data, call heimdall.remediate.cypher with a parameterised Cypher statement, its params and a reason; never splice values into the statement text. Prefer creating audit or summary nodes over deleting or overwriting data. Write plain Cypher clauses (MATCH, CREATE, MERGE, SET, REMOVE, DELETE): procedures and functions not on the allowlist, CALL { } IN TRANSACTIONS, LOAD CSV, commands and Heimdall's own nodes are refused, and a refusal is final."
      : '- No remediation executor is available, so data cannot be changed through Heimdall; recommend Cypher for an operator to review instead.',
    `- Remediation policy: ${i.remediation.mode === 'auto' && i.remediation.autoApproveDestructive ? 'auto — remediation runs at once and is audited, deletions included' : POLICY[i.remediation.mode]}.${i.remediation.allowSchema ? '' : ' Index and constraint changes are not allowed.'} Actions marked [destructive] go through the same policy.`,
    '- Finish with a short answer for an operator: what you found, what you did, and what you recommend.',
  ];
  if (i.jsonMode) {
    lines.push(
      '',
      'Reply protocol (this server has no function tools): to run an action, reply with ONLY a JSON object {"action": "<action name>", "params": {...}} (or a JSON list of such objects to run several). You will get the results and can continue. To finish, reply with plain text and no JSON object.',
    );
  }
  return lines.join('\n');
}

function catalogue(i: SystemPromptInput, detail: 'full' | 'names'): string {
  if (i.actions.length === 0) return '## Actions\nNo actions are available.';
  const rows = i.actions.map((a) => {
    const tool = i.toolName?.(a.name);
    const name = tool && tool !== a.name ? `${a.name} (tool ${tool})` : a.name;
    const flag = a.destructive ? ' [destructive]' : '';
    if (detail === 'names') return `- ${name}${flag}`;
    const params = i.jsonMode ? ` params: ${JSON.stringify(a.params)}` : '';
    return `- ${name}${flag}: ${a.description}${params}`;
  });
  return `## Actions\n${rows.join('\n')}`;
}

function schemaText(i: SystemPromptInput, detail: 'full' | 'compact' | 'omitted'): string {
  const s = i.schema;
  if (!s) return `## Database schema\n${i.schemaNote ?? 'Not available.'}`;
  if (detail === 'omitted') return '## Database schema\nOmitted to fit the token budget; call heimdall.db.schema if you need it.';
  const count = (n?: number) => (n === undefined ? '' : `(${n})`);
  const lines = [`## Database schema (read ${s.fetchedAt})`];
  if (s.nodeCount !== undefined) lines.push(`Nodes: ${s.nodeCount}; relationships: ${s.relationshipCount ?? '?'}.`);
  lines.push(`Labels: ${s.labels.map((l) => `${l.label}${count(l.count)}`).join(', ') || 'none'}`);
  lines.push(`Relationship types: ${s.relationshipTypes.map((r) => `${r.type}${count(r.count)}`).join(', ') || 'none'}`);
  if (detail === 'full') {
    lines.push(`Property keys: ${s.propertyKeys.join(', ') || 'none'}`);
    const on = (x: { labelsOrTypes?: string[]; properties?: string[] }) => `${(x.labelsOrTypes ?? []).join('|')}(${(x.properties ?? []).join(',')})`;
    lines.push(`Indexes: ${s.indexes.map((x) => `${x.name} ${x.type ?? ''} on ${on(x)}`.replace(/\s+/g, ' ')).join('; ') || 'none'}`);
    lines.push(`Constraints: ${s.constraints.map((x) => `${x.name} ${x.type ?? ''} on ${on(x)}`.replace(/\s+/g, ' ')).join('; ') || 'none'}`);
  }
  return lines.join('\n');
}

function triggerText(t: ActionTrigger): string {
  if (t.kind === 'plugin') return `## Trigger\nThe plugin "${t.plugin ?? '?'}" sent this prompt from its event handler or an action.`;
  if (t.kind === 'prompt') return `## Trigger\nAnother prompt${t.plugin ? ` of the plugin "${t.plugin}"` : ''} asked for this.`;
  return '## Trigger\nAn operator sent this prompt (CLI or HTTP API).';
}

export function buildSystemPrompt(i: SystemPromptInput): SystemPrompt {
  const fixed = [header(i), triggerText(i.trigger)];
  const userTokens = estimateTokens(i.userPrompt);
  const plan: Array<{ schema: 'full' | 'compact' | 'omitted'; catalogue: 'full' | 'names' }> = [
    { schema: 'full', catalogue: 'full' },
    { schema: 'compact', catalogue: 'full' },
    { schema: 'omitted', catalogue: 'full' },
    { schema: 'omitted', catalogue: 'names' },
  ];
  let last: SystemPrompt | undefined;
  for (const step of plan) {
    const parts = [fixed[0]!, catalogue(i, step.catalogue), schemaText(i, step.schema), fixed[1]!];
    const base = parts.join('\n\n');
    const used = estimateTokens(base) + userTokens + i.toolTokens;
    const room = i.budget - used - 40;
    const ctx = i.context === undefined ? undefined : fitContext(i.context, Math.max(0, room));
    let text = base;
    if (ctx) {
      const kept = ctx.text === '' ? '(all of it was trimmed to fit the token budget)' : ctx.text;
      const note = ctx.droppedItems > 0 || ctx.truncated ? ` (${ctx.droppedItems} oldest items${ctx.truncated ? ' dropped and the rest cut' : ' dropped'} to fit the token budget)` : '';
      text += `\nContext from the caller${note}:\n${kept}`;
    }
    const tokens = estimateTokens(text) + userTokens + i.toolTokens;
    last = {
      text,
      tokens,
      trimmed: { contextItems: ctx?.droppedItems ?? 0, contextCut: (ctx?.truncated ?? false) || (ctx !== undefined && ctx.text === ''), schema: step.schema, catalogue: step.catalogue },
      overBudget: tokens > i.budget,
    };
    // Keep schema and catalogue whole as long as at least some context (or all of it) fits.
    const contextFits = !ctx || (ctx.text !== '' && room > 0);
    if (!last.overBudget && contextFits) return last;
  }
  return last!;
}
