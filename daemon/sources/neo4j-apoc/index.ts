/**
 * The neo4j-apoc source and its outbox, as the rest of Heimdall uses them: the source (daemon.ts
 * wires it with the settle.ts helpers), the OutboxStore (the `heimdall db` commands, tests,
 * benchmarks), the trigger's names and ordering modes, and what guards Heimdall's own nodes. See ../README.md.
 */
export { Neo4jApocSource, type Neo4jApocSourceOptions, type Notify } from './source.js';
export { roomInQueues, settledWhenQueuesDrain, type BoundedQueue, type CountingQueue } from './settle.js';
export { MAX_BATCH_BYTES, OutboxStore, pendingKey, type OutboxDatabase } from './outbox-store.js';
export type * from './outbox-store-types.js';
export { OutboxError, explainOutboxError } from './outbox-errors.js';
export { FAILED_LABEL, OUTBOX_LABEL, TRIGGER_NAME, triggerStatement, type Ordering } from './outbox-trigger.js';
export { AUDIT_LABEL, COUNTER_LABEL, GUARDED_LABELS, REFUSAL, isRefusal } from '../../db/own-state.js';
export { inspect, type Finding, type FindingKind, type WatchdogTimer } from './watchdog.js';
