/**
 * The language model client: the `openai` package against any OpenAI-compatible Chat Completions
 * endpoint (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio). Retries (429, 5xx, timeouts) are
 * the package's own, bounded by llm.maxRetries; every failure becomes a {@link ModelError} whose
 * message says what to check.
 */
import OpenAI from 'openai';
import type {
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { redactUrl } from '../../config/redact.js';
import type { LlmConfig } from '../../config/types.js';
import type { ModelUsage } from './seams.js';

export type { ChatCompletionMessageParam, ChatCompletionTool };

export type ModelFailure = 'http' | 'timeout' | 'connection' | 'aborted' | 'tools_unsupported' | 'bad_response';

/** The model call failed; `reason` says how, the message says what to do. */
export class ModelError extends Error {
  constructor(
    readonly reason: ModelFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}

export interface ChatRequest {
  messages: ChatCompletionMessageParam[];
  tools?: ChatCompletionTool[];
  model?: string;
  temperature?: number;
  signal?: AbortSignal;
}

export interface ChatAnswer {
  message: ChatCompletionMessage;
  finishReason: string;
  usage: ModelUsage;
  /** Wall time of the HTTP exchange, retries included. */
  latencyMs: number;
  model: string;
}

/** Does a 400/422 answer say the server or model cannot take `tools`? */
function refusesTools(err: InstanceType<typeof OpenAI.APIError>): boolean {
  if (err.status !== 400 && err.status !== 422 && err.status !== 501) return false;
  return /tool|function/i.test(`${err.message} ${JSON.stringify(err.error ?? '')}`);
}

/**
 * llm.baseURL split for the openai package, which appends paths to baseURL as text: a query
 * string (`?api-version=…`, a proxy's `?api_key=…`) becomes its defaultQuery, sent with every request.
 */
export function splitBaseURL(baseURL: string): { baseURL: string; query?: Record<string, string> } {
  const q = baseURL.indexOf('?');
  if (q < 0) return { baseURL };
  const query = Object.fromEntries(new URLSearchParams(baseURL.slice(q + 1).replace(/#.*$/, '')));
  return { baseURL: baseURL.slice(0, q), ...(Object.keys(query).length > 0 ? { query } : {}) };
}

export class ModelClient {
  private readonly client: OpenAI;
  /** llm.baseURL as messages show it (its credentials replaced by ***). */
  readonly where: string;

  /** Told on every call whether the model server could be reached (for the daemon's Bifrost notices). */
  onReachability: ((reachable: boolean, reason?: string) => void) | undefined;

  constructor(readonly config: LlmConfig) {
    this.where = redactUrl(config.baseURL);
    const { baseURL, query } = splitBaseURL(config.baseURL);
    this.client = new OpenAI({
      baseURL,
      ...(query ? { defaultQuery: query } : {}),
      // Local servers need no key; the package insists on one, so send a placeholder.
      apiKey: config.apiKey || process.env['OPENAI_API_KEY'] || 'heimdall-no-key',
      timeout: config.timeoutMs,
      maxRetries: config.maxRetries,
      ...(config.headers ? { defaultHeaders: config.headers } : {}),
    });
  }

  get model(): string {
    return this.config.model;
  }

  async chat(req: ChatRequest): Promise<ChatAnswer> {
    const model = req.model ?? this.config.model;
    const started = performance.now();
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        {
          model,
          messages: req.messages,
          ...(req.tools && req.tools.length > 0 ? { tools: req.tools, tool_choice: 'auto' as const } : {}),
          ...((req.temperature ?? this.config.temperature) !== undefined ? { temperature: req.temperature ?? this.config.temperature } : {}),
          ...(this.config.maxTokens !== undefined ? { max_tokens: this.config.maxTokens } : {}),
        },
        req.signal ? { signal: req.signal } : undefined,
      );
    } catch (err) {
      const e = this.describe(err, model);
      if (e.reason === 'connection' || e.reason === 'timeout' || (e.status ?? 0) >= 500) this.onReachability?.(false, e.message);
      throw e;
    }
    this.onReachability?.(true);
    const latencyMs = performance.now() - started;
    const choice = completion?.choices?.[0];
    if (!choice || !choice.message) {
      throw new ModelError('bad_response', `The model server at ${this.where} answered without a choice or message; check that it implements the Chat Completions API.`);
    }
    const u = completion.usage;
    return {
      message: choice.message,
      finishReason: choice.finish_reason ?? 'stop',
      usage: { promptTokens: u?.prompt_tokens ?? 0, completionTokens: u?.completion_tokens ?? 0, totalTokens: u?.total_tokens ?? (u ? u.prompt_tokens + u.completion_tokens : 0) },
      latencyMs,
      model: completion.model || model,
    };
  }

  private describe(err: unknown, model: string): ModelError {
    const where = `The model server at ${this.where}`;
    const tries = this.config.maxRetries > 0 ? ` after ${this.config.maxRetries + 1} attempts` : '';
    if (err instanceof OpenAI.APIUserAbortError) return new ModelError('aborted', 'The model request was cancelled before it finished.');
    if (err instanceof OpenAI.APIConnectionTimeoutError) {
      return new ModelError('timeout', `${where} did not answer within ${this.config.timeoutMs} ms${tries}. Check that it is running and not overloaded, or raise llm.timeoutMs.`);
    }
    if (err instanceof OpenAI.APIConnectionError) {
      return new ModelError('connection', `${where} cannot be reached${tries}: ${(err.cause as Error | undefined)?.message ?? err.message}. Check llm.baseURL and that the server is running.`);
    }
    if (err instanceof OpenAI.APIError) {
      const status = err.status ?? 0;
      if (refusesTools(err)) {
        return new ModelError('tools_unsupported', `${where} refused function tools for model ${model} (HTTP ${status}: ${err.message}). Set llm.toolMode: json to use the JSON reply protocol instead.`, status);
      }
      const hint =
        status === 401 || status === 403 ? 'Check llm.apiKey (and llm.headers).'
        : status === 404 ? `Check llm.baseURL and that the model ${model} exists on the server.`
        : status === 429 ? 'The server is rate limiting; wait, raise its limits, or lower invoker.rateLimit.'
        : status >= 500 ? 'The server failed; check its logs.'
        : 'Check the request settings in the llm: section.';
      return new ModelError('http', `${where} answered HTTP ${status}${tries}: ${err.message}. ${hint}`, status);
    }
    return new ModelError('bad_response', `${where} could not be used: ${(err as Error)?.message ?? String(err)}.`);
  }
}
