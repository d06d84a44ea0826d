/**
 * The wire format of the Bifrost stream (Server-Sent Events).
 *
 *   id: <epoch>-<message id>     every bus message; EventSource sends it back as Last-Event-ID
 *   event: <kind>                message | notification | broadcast | confirmation_request | confirmation_result
 *   data: <the message as JSON>  one line (JSON.stringify escapes newlines)
 *
 * Control events carry no id (so they never move the client's resume point):
 *   hello     first event of every stream: { epoch, lastId, oldestId, heartbeatMs, replayed }
 *   gap       replay is incomplete: { reason, requested, missed, oldestAvailable, message }
 *   skipped   messages were left out for a client that reads more slowly than they are published:
 *             { skipped, firstId, lastId, message } (fetch them from /v1/bifrost/notifications?since=)
 *   cutoff    the client was too slow and is disconnected: { reason, message, pendingMessages, pendingBytes }
 *   shutdown  the daemon is stopping: { message }
 * Heartbeats are comment lines (": heartbeat <ISO time>").
 */
import type { BifrostMessage } from './bus.js';
import { sseId } from './since.js';

export type ControlEvent = 'hello' | 'gap' | 'skipped' | 'cutoff' | 'shutdown';

/** Reconnect delay suggested to EventSource clients, ms. */
export const RETRY_MS = 1000;

export function messageFrame(epoch: string, m: BifrostMessage): string {
  return `id: ${sseId(epoch, m.id)}\nevent: ${m.kind}\ndata: ${JSON.stringify(m)}\n\n`;
}

export function controlFrame(event: ControlEvent, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function commentFrame(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

export function retryFrame(ms = RETRY_MS): string {
  return `retry: ${ms}\n\n`;
}
