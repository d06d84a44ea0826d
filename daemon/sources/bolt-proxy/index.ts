/** The bolt-proxy source: a Bolt relay with an observe-only tap (README.md in this folder). */
export { BoltProxySource, type BoltProxySourceOptions, type BoltProxyStatusDetails } from './bolt-proxy-source.js';
export { BOLT_PROXY_DEFAULTS, BoltProxyConfigError, resolveBoltProxyConfig, type BoltProxySourceConfig, type ResolvedBoltProxyConfig } from '../../../config/bolt-proxy.js';
export type { CaptureParams } from './values.js';
