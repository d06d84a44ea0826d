/**
 * The delivery checkpoint and back-pressure helpers moved to ./neo4j-apoc/settle.ts; this path
 * re-exports them for the code that still imports them from here (daemon.ts). Import from
 * ./neo4j-apoc/index.js instead; this file goes once nothing uses it.
 */
export { roomInQueues, settledWhenQueuesDrain, type BoundedQueue, type CountingQueue } from './neo4j-apoc/settle.js';
