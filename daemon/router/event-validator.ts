/**
 * Checks incoming items against the event schema and fills what the producer may leave out:
 * id (a UUID), timestamp (now), database (the configured one) and source (the ingest path).
 * The check lives in the SDK (sdk/checks/event.ts), so the testing kit runs the same one.
 */
export { checkEvent, type Checked } from '../../sdk/checks/event.js';
