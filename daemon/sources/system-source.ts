/**
 * The `system` source: lifecycle events the daemon itself observes — database.started when the
 * database becomes reachable and database.shutdown when it goes away (source 'system').
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseEvent, EventType } from '../../sdk/index.js';

export function systemEvent(type: EventType, database: string, metadata: Record<string, unknown> = {}): DatabaseEvent {
  return { id: randomUUID(), type, timestamp: new Date().toISOString(), database, source: 'system', metadata };
}
