/**
 * An OpenAI-compatible Chat Completions server for tests and benchmarks: real HTTP on loopback,
 * answers scripted by the test. The real `openai` client talks to it over the network, exactly as
 * it talks to OpenAI, Ollama, vLLM, llama.cpp or LM Studio.
 *
 *   const llm = await startTestLlm();
 *   llm.script({ toolCalls: [{ name: 'recorder__echo', arguments: { text: 'hi' } }] }, { content: 'Done.' });
 *   // config: llm: { baseURL: llm.baseURL, model: test-model }
 *
 * Replies are used in order; when none is left the server answers 500 with a message saying so
 * (unless a responder is set with `respond`). Every request is recorded with its parsed body.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScriptedToolCall {
  name: string;
  /** An object (sent as JSON) or the raw arguments string (to send malformed JSON). */
  arguments: unknown;
  id?: string;
}

export type ScriptedReply =
  | { content: string; delayMs?: number; finishReason?: string }
  | { toolCalls: ScriptedToolCall[]; content?: string; delayMs?: number }
  | { status: number; error?: string; headers?: Record<string, string>; delayMs?: number };

export interface ChatBody {
  model: string;
  messages: Array<{ role: string; content?: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>; tool_call_id?: string }>;
  tools?: Array<{ type: string; function: { name: string; description?: string; parameters?: Record<string, unknown> } }>;
  temperature?: number;
  max_tokens?: number;
  [k: string]: unknown;
}

export interface RecordedRequest {
  body: ChatBody;
  headers: IncomingMessage['headers'];
  /** The request's path and query string. */
  url: string;
  receivedAt: number;
  /** Time the server spent before answering (scripted delay). */
  delayMs: number;
}

export type Responder = (body: ChatBody, index: number) => ScriptedReply | Promise<ScriptedReply>;

export interface TestLlm {
  /** Base URL for llm.baseURL (ends in /v1). */
  baseURL: string;
  requests: RecordedRequest[];
  /** Appends replies to the script. */
  script(...replies: Array<ScriptedReply | Responder>): void;
  /** Answers every request not covered by the script. */
  respond(fn: Responder | undefined): void;
  /** Answer 400 "tools not supported" whenever a request carries tools (like llama.cpp without --jinja). */
  refuseTools: boolean;
  /** Requests currently being answered. */
  inFlight: number;
  maxInFlight: number;
  /** Scripted replies not used yet. */
  remaining(): number;
  reset(): void;
  close(): Promise<void>;
}

const tokens = (s: string): number => Math.ceil(s.length / 4);

function completion(body: ChatBody, reply: Exclude<ScriptedReply, { status: number }>, n: number): Record<string, unknown> {
  const prompt = tokens(JSON.stringify(body.messages));
  if ('toolCalls' in reply) {
    const calls = reply.toolCalls.map((c, i) => ({
      id: c.id ?? `call_${n}_${i}`,
      type: 'function',
      function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}) },
    }));
    const out = tokens(JSON.stringify(calls));
    return {
      id: `chatcmpl-test-${n}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: reply.content ?? null, tool_calls: calls }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: prompt, completion_tokens: out, total_tokens: prompt + out },
    };
  }
  const out = tokens(reply.content);
  return {
    id: `chatcmpl-test-${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content: reply.content }, finish_reason: reply.finishReason ?? 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: out, total_tokens: prompt + out },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startTestLlm(): Promise<TestLlm> {
  const queue: Array<ScriptedReply | Responder> = [];
  let responder: Responder | undefined;
  let count = 0;
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = (req.url ?? '').split('?')[0]!;
        if (req.method === 'GET' && path.endsWith('/models')) {
          send(res, 200, { object: 'list', data: [{ id: 'test-model', object: 'model', created: 0, owned_by: 'test' }] });
          return;
        }
        if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
          send(res, 404, { error: { message: `The test LLM serves POST /v1/chat/completions, not ${req.method} ${req.url}.`, type: 'not_found' } });
          return;
        }
        let body: ChatBody;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
        } catch {
          send(res, 400, { error: { message: 'The request body is not JSON.', type: 'invalid_request_error' } });
          return;
        }
        const n = count++;
        const rec: RecordedRequest = { body, headers: req.headers, url: req.url ?? '', receivedAt: Date.now(), delayMs: 0 };
        llm.requests.push(rec);
        llm.inFlight++;
        llm.maxInFlight = Math.max(llm.maxInFlight, llm.inFlight);
        try {
          if (llm.refuseTools && body.tools && body.tools.length > 0) {
            send(res, 400, { error: { message: 'tools param requires --jinja flag', type: 'invalid_request_error' } });
            return;
          }
          const next = queue.shift() ?? responder;
          if (!next) {
            send(res, 500, { error: { message: `The test LLM has no scripted reply left for request ${n + 1}.`, type: 'server_error' } }, { 'x-should-retry': 'false' });
            return;
          }
          const reply = typeof next === 'function' ? await next(body, n) : next;
          if (reply.delayMs) {
            rec.delayMs = reply.delayMs;
            await new Promise<void>((r) => {
              const t = setTimeout(() => {
                timers.delete(t);
                r();
              }, reply.delayMs);
              timers.add(t);
              res.on('close', () => {
                clearTimeout(t);
                timers.delete(t);
                r();
              });
            });
            if (res.destroyed || res.writableEnded) return;
          }
          if ('status' in reply) {
            send(res, reply.status, { error: { message: reply.error ?? `Scripted HTTP ${reply.status}.`, type: reply.status === 429 ? 'rate_limit_error' : 'server_error' } }, reply.headers);
            return;
          }
          send(res, 200, completion(body, reply, n));
        } finally {
          llm.inFlight--;
        }
      })();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  const llm: TestLlm = {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests: [],
    refuseTools: false,
    inFlight: 0,
    maxInFlight: 0,
    script: (...replies) => void queue.push(...replies),
    respond: (fn) => {
      responder = fn;
    },
    remaining: () => queue.length,
    reset: () => {
      queue.length = 0;
      responder = undefined;
      llm.requests.length = 0;
      llm.refuseTools = false;
      llm.maxInFlight = llm.inFlight;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return llm;
}

/** YAML of an audit: section writing to a fresh temporary file (so tests leave the repository alone). */
export function tmpAuditYaml(): string {
  return `audit:\n  path: ${JSON.stringify(join(mkdtempSync(join(tmpdir(), 'heimdall-invoker-test-')), 'audit.jsonl'))}`;
}

/** YAML of an llm: section pointing at the test server. */
export function llmYaml(llm: TestLlm, extra: Record<string, unknown> = {}): string {
  const lines = ['llm:', `  baseURL: ${llm.baseURL}`, '  model: test-model', '  apiKey: test-key'];
  for (const [k, v] of Object.entries({ maxRetries: 0, timeoutMs: 5000, ...extra })) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  return lines.join('\n');
}
