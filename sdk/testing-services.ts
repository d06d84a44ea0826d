/**
 * The host services (ctx.heimdall, ctx.database, ctx.bifrost) of the testing kit: each call is
 * recorded and answered the way the daemon would answer it, from the kit's options — the read-only
 * rule and a scripted database, a model reply, confirmations answered yes or no. Used by
 * testing.ts; not exported on its own.
 */
import { randomUUID } from 'node:crypto';
import { checkQueryMode } from './checks/query-mode.js';
import { DatabaseNotConfiguredError, ErrorCode, QueryFailedError } from './errors.js';
import type {
  ActionResult,
  BifrostClient,
  ConfirmationOptions,
  DatabaseAccess,
  HeimdallInvoker,
  HostServices,
  NotificationLevel,
  PromptOptions,
  QueryOptions,
  Row,
} from './plugin.js';

/** Everything the plugin asked of its context, in call order per method. */
export interface RecordedCalls {
  invokeAction: Array<{ name: string; params: Record<string, unknown> }>;
  invokeActionAsync: Array<{ name: string; params: Record<string, unknown> }>;
  sendPrompt: Array<{ prompt: string; opts?: unknown }>;
  sendPromptAsync: Array<{ prompt: string; opts?: unknown }>;
  sendRawPrompt: Array<{ prompt: string }>;
  query: Array<{ cypher: string; params: Record<string, unknown>; opts?: unknown }>;
  notifications: Array<{ level: NotificationLevel | 'message' | 'broadcast'; title?: string; message: string; data?: Record<string, unknown> }>;
  confirmations: Array<{ action: string; opts?: unknown }>;
  logs: Array<{ level: string; msg: string; data?: Record<string, unknown> }>;
}

/** One scripted answer of the kit's database: the first entry whose `match` fits the statement answers it. */
export interface ScriptedQuery {
  /** A substring of the statement, or a pattern it matches. */
  match: string | RegExp;
  /** The rows it returns (plain JSON, as the daemon hands them over). Default none. */
  rows?: Row[];
  /** Throw this instead: an Error, or the message of a QueryFailedError. */
  error?: Error | string;
}

/** Answers ctx.database.query: a function, or a script (statements no entry matches get no rows). */
export type KitDatabase = ScriptedQuery[] | ((cypher: string, params: Record<string, unknown>, opts: QueryOptions) => Row[] | Promise<Row[]>);

/** A model reply: its text (success), a whole ActionResult, or a function of the prompt. */
export type KitModel = string | ActionResult | ((prompt: string, opts: PromptOptions | undefined) => string | ActionResult | Promise<string | ActionResult>);

export interface ServiceOptions {
  /** The plugin's name and whether its plugins[] entry grants writes. */
  plugin: { name: string; write: boolean };
  database?: KitDatabase | undefined;
  model?: KitModel | undefined;
  confirm?: boolean | ((action: string, opts: ConfirmationOptions | undefined) => boolean | Promise<boolean>) | undefined;
  /** Runs a synchronous invokeAction (the kit's own actions, else the test's handler). */
  invokeAction: (name: string, params: Record<string, unknown>) => Promise<ActionResult>;
}

/** What a daemon without an `llm:` section answers to every prompt. */
export const NO_MODEL_REPLY: ActionResult = Object.freeze({
  success: false,
  message: 'No language model is configured (the test kit was given no model reply), so the prompt was not sent. Pass opts.model to the kit to answer prompts.',
  data: Object.freeze({ code: ErrorCode.HMD_ERR_NO_MODEL }),
}) as ActionResult;

export function emptyCalls(): RecordedCalls {
  return { invokeAction: [], invokeActionAsync: [], sendPrompt: [], sendPromptAsync: [], sendRawPrompt: [], query: [], notifications: [], confirmations: [], logs: [] };
}

async function answerModel(model: KitModel | undefined, prompt: string, opts?: PromptOptions): Promise<ActionResult> {
  if (model === undefined) return structuredClone(NO_MODEL_REPLY);
  const reply = typeof model === 'function' ? await model(prompt, opts) : model;
  return typeof reply === 'string' ? { success: true, message: reply } : reply;
}

async function answerQuery(db: KitDatabase, cypher: string, params: Record<string, unknown>, opts: QueryOptions): Promise<Row[]> {
  if (typeof db === 'function') return db(cypher, params, opts);
  const hit = db.find((q) => (typeof q.match === 'string' ? cypher.includes(q.match) : q.match.test(cypher)));
  if (hit?.error !== undefined) throw typeof hit.error === 'string' ? new QueryFailedError(hit.error) : hit.error;
  return structuredClone(hit?.rows ?? []);
}

/** The three host services, recording into `calls`. */
export function recordingServices(calls: RecordedCalls, o: ServiceOptions): HostServices {
  const heimdall: HeimdallInvoker = {
    invokeAction: (name, params = {}) => {
      calls.invokeAction.push({ name, params });
      return o.invokeAction(name, params);
    },
    invokeActionAsync: async (name, params = {}) => {
      calls.invokeActionAsync.push({ name, params });
      return randomUUID();
    },
    sendPrompt: async (prompt, opts) => {
      calls.sendPrompt.push({ prompt, ...(opts ? { opts } : {}) });
      return answerModel(o.model, prompt, opts);
    },
    sendPromptAsync: async (prompt, opts) => {
      calls.sendPromptAsync.push({ prompt, ...(opts ? { opts } : {}) });
      return randomUUID();
    },
    sendRawPrompt: async (prompt) => {
      calls.sendRawPrompt.push({ prompt });
      return answerModel(o.model, prompt);
    },
  };
  const database: DatabaseAccess = {
    query: async (cypher, params = {}, opts) => {
      calls.query.push({ cypher, params, ...(opts ? { opts } : {}) });
      if (o.database === undefined) {
        // as a daemon without a database: section
        throw new DatabaseNotConfiguredError('No database is configured (the test kit was given no database), so ctx.database.query cannot run. Pass opts.database to the kit to answer queries.');
      }
      checkQueryMode(o.plugin, opts ?? {});
      return answerQuery(o.database, cypher, params, opts ?? {});
    },
  };
  const bifrost: BifrostClient = {
    sendMessage: async (message) => void calls.notifications.push({ level: 'message', message }),
    broadcast: async (message) => void calls.notifications.push({ level: 'broadcast', message }),
    sendNotification: async (level, title, message, data) => void calls.notifications.push({ level, title, message, ...(data ? { data } : {}) }),
    requestConfirmation: async (action, opts) => {
      calls.confirmations.push({ action, ...(opts ? { opts } : {}) });
      // no operator answers by default: the request runs out and resolves false
      return typeof o.confirm === 'function' ? o.confirm(action, opts) : o.confirm === true;
    },
    requestConfirmationAnswer: async (action, opts) => {
      calls.confirmations.push({ action, ...(opts ? { opts } : {}) });
      const approved = typeof o.confirm === 'function' ? await o.confirm(action, opts) : o.confirm === true;
      return { approved, state: approved ? 'approved' : o.confirm === undefined ? 'expired' : 'denied', id: randomUUID().slice(0, 8) };
    },
    isConnected: async () => o.confirm !== undefined,
    connectionCount: async () => (o.confirm !== undefined ? 1 : 0),
  };
  return { heimdall, database, bifrost };
}
