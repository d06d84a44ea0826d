/**
 * Recent invocations (sync and async, actions and prompts) and their results, for
 * GET /v1/invocations and `heimdall invocations`. Bounded by invoker.historySize; the oldest
 * finished record goes first.
 */
import type { ActionResult, ActionTrigger, PromptOptions } from '../../sdk/index.js';

export type InvocationKind = 'action' | 'prompt' | 'raw_prompt';
export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'rejected';

export interface InvocationRecord {
  id: string;
  kind: InvocationKind;
  mode: 'sync' | 'async';
  /** The action name, or 'prompt' / 'raw_prompt'. */
  name: string;
  trigger: ActionTrigger;
  status: InvocationStatus;
  submittedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Time spent waiting for a slot (async only). */
  queuedMs?: number;
  /** Run time, from start to result. */
  durationMs?: number;
  params?: Record<string, unknown>;
  /** The prompt text (cut to 2,000 characters). */
  prompt?: string;
  /** Why it was refused: queue_full, rate_limited, shutdown. */
  rejectedBecause?: string;
  result?: ActionResult;
}

/** What an operator submits to POST /v1/invocations. */
export type InvocationRequest =
  | { kind: 'action'; name: string; params?: Record<string, unknown> }
  | { kind: 'prompt'; prompt: string; opts?: PromptOptions }
  | { kind: 'raw_prompt'; prompt: string };

/** Async invocations and their history, as the /v1/invocations routes see them. */
export interface InvocationsApi {
  /** Recent invocations, newest first. */
  list(filter?: InvocationFilter): InvocationRecord[];
  get(id: string): InvocationRecord | undefined;
  /** Queues an async invocation; throws (unknown action, invalid params, no model, queue full) instead of queueing a doomed one. */
  submit(req: InvocationRequest): InvocationRecord;
}

export interface InvocationFilter {
  plugin?: string;
  kind?: InvocationKind;
  status?: InvocationStatus;
  limit?: number;
}

export class InvocationStore {
  private readonly records = new Map<string, InvocationRecord>();

  constructor(private readonly capacity: number) {}

  add(r: InvocationRecord): InvocationRecord {
    this.records.set(r.id, r);
    if (this.records.size > this.capacity) {
      for (const [id, old] of this.records) {
        if (old.status !== 'queued' && old.status !== 'running') {
          this.records.delete(id);
          break;
        }
      }
      // Everything is still pending: drop the oldest anyway so the store stays bounded.
      if (this.records.size > this.capacity) this.records.delete(this.records.keys().next().value!);
    }
    return r;
  }

  get(id: string): InvocationRecord | undefined {
    return this.records.get(id);
  }

  /** Newest first. */
  list(f: InvocationFilter = {}): InvocationRecord[] {
    const out: InvocationRecord[] = [];
    const all = [...this.records.values()];
    const limit = f.limit ?? 50;
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const r = all[i]!;
      if (f.plugin !== undefined && r.trigger.plugin !== f.plugin) continue;
      if (f.kind !== undefined && r.kind !== f.kind) continue;
      if (f.status !== undefined && r.status !== f.status) continue;
      out.push(r);
    }
    return out;
  }

  get size(): number {
    return this.records.size;
  }
}
