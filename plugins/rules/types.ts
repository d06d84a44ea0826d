/**
 * The shapes of declarative rules: what an operator writes (RuleSpec, ActionSpec), what the
 * compiler makes of it (CompiledRule, CompiledAction) and how problems are reported (RuleError).
 */
import type { CelProgram } from './conditions.js';
import type { TemplateNode } from './templates.js';

/** A duration string: '500ms', '2s', '5m', '1h' (or '1d'). */
export type DurationString = string;

/** How a failed action is tried again. */
export interface RetrySpec {
  /** Attempts in all, the first one included (1 = no retry). Default 1. */
  maxAttempts?: number;
  /** Delay before the second attempt, ms. Default 1000. */
  initialDelayMs?: number;
  /** 'fixed' waits initialDelayMs each time; 'exponential' (default) doubles it per retry. */
  backoff?: 'fixed' | 'exponential';
  /** Upper bound on one delay, ms. Default 30000. */
  maxDelayMs?: number;
}

/** Keys every action may carry besides its one type key. */
export interface ActionCommon {
  /** 'sync' (default): the next action waits for this one; 'async': start it and go on. */
  timing?: 'sync' | 'async';
  retry?: RetrySpec;
  /** Run the next actions even when this one failed after its retries. Default false. */
  continueOnError?: boolean;
}

export interface NotifySpec {
  level?: 'info' | 'warning' | 'error' | 'success';
  title?: string;
  message: string;
  data?: Record<string, unknown>;
}
export interface InvokeSpec {
  action: string;
  params?: Record<string, unknown>;
  /** Queue it in the daemon's invocation queue and go on with its id (invokeActionAsync). */
  async?: boolean;
}
export interface PromptSpec {
  text: string;
  /** Queue the prompt (sendPromptAsync) instead of waiting for the answer. */
  async?: boolean;
}
export interface CypherSpec {
  /** Cypher text; never templated (values go in params, which are bound). */
  statement: string;
  params?: Record<string, unknown>;
}
export interface WebhookSpec {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: unknown;
  /** Deadline of one attempt, ms; default the plugin's webhookTimeoutMs. */
  timeoutMs?: number;
}
export interface LogSpec {
  level?: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** The action types, in the order the docs list them. */
export const ACTION_TYPES = ['notify', 'invoke', 'prompt', 'cypher', 'webhook', 'log'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export type ActionSpec = ActionCommon &
  ({ notify: NotifySpec } | { invoke: InvokeSpec } | { prompt: PromptSpec } | { cypher: CypherSpec } | { webhook: WebhookSpec } | { log: LogSpec });

/** A rule as written in the config or a rule file. */
export interface RuleSpec {
  name: string;
  description?: string;
  enabled?: boolean;
  priority?: number;
  on: string | string[];
  match?: { labels?: string | string[]; relationshipType?: string | string[]; database?: string | string[]; source?: string | string[] };
  when?: string;
  window?: { count: number; within: DurationString; by?: string };
  debounce?: DurationString;
  cooldown?: DurationString;
  maxConcurrent?: number;
  actions: ActionSpec[];
}

/** One problem with one rule. */
export interface RuleError {
  /** The rule's name, or `#<index>` when it has no usable name. */
  rule: string;
  /** Position of the rule in the list handed to compileRules. */
  index: number;
  /** Where in the rule, e.g. `when` or `actions[1].webhook.url`; '' for the rule itself. */
  path: string;
  /** A full sentence that names the rule and the path. */
  message: string;
  /** Where in the expression or template, 1-based, when the problem is inside one. */
  position?: { line: number; column: number };
}

export interface RetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  backoff: 'fixed' | 'exponential';
  maxDelayMs: number;
}

export interface CompiledAction {
  index: number;
  type: ActionType;
  timing: 'sync' | 'async';
  retry: RetryPolicy;
  continueOnError: boolean;
  /** The action's body (the value under its type key) as a template tree. */
  input: TemplateNode;
}

export interface CompiledRule {
  name: string;
  description: string;
  enabled: boolean;
  priority: number;
  /** Position in the input list; breaks priority ties. */
  order: number;
  on: string[];
  match: { labels?: string[]; relationshipType?: string[]; database?: string[]; source?: string[] };
  when?: CelProgram;
  window?: { count: number; withinMs: number; by?: CelProgram };
  debounceMs: number;
  cooldownMs: number;
  /** Infinity when not set. */
  maxConcurrent: number;
  actions: CompiledAction[];
  /** The rule as written (a deep copy). */
  definition: RuleSpec;
}

/** What compileRules returns: the rules that compiled and the problems of those that did not. */
export interface CompileResult {
  /** Good rules, sorted by priority (lower first), then by position. */
  rules: CompiledRule[];
  errors: RuleError[];
  /** Names (or `#index`) of the rules left out because of errors. */
  invalid: string[];
}
