/**
 * The neo4j-apoc source moved to ./neo4j-apoc/source.ts (with its outbox store, trigger and events);
 * this path re-exports it for the code that still imports it from here (daemon.ts). Import from
 * ./neo4j-apoc/index.js instead; this file goes once nothing uses it.
 */
export { Neo4jApocSource, type Neo4jApocSourceOptions } from './neo4j-apoc/source.js';
