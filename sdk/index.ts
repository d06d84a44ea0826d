/**
 * Heimdall plugin SDK. Import from `heimdall/sdk`.
 * @packageDocumentation
 */
export * from './events.js';
export * from './event-schema.js';
export * from './errors.js';
export * from './plugin.js';
export * from './host-contract.js';
