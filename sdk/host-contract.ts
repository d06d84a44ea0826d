/**
 * The host contract: every call a plugin's worker thread can make into the daemon, with its
 * argument and result types, derived from the SDK's own service interfaces ({@link HostServices}:
 * `HeimdallInvoker`, `DatabaseAccess`, `BifrostClient`). Those interfaces stay the source of truth;
 * this file only renames their methods to the wire names `'<namespace>.<method>'` and lists them at
 * run time, and the type checker keeps that list complete.
 *
 * The daemon builds three things from it: the worker-side proxy behind `ctx.heimdall`,
 * `ctx.database` and `ctx.bifrost`, the host-side dispatcher (one handler per method, each with
 * argument checks), and the protocol's `rpc` message. The testing kit implements the same
 * interfaces. A plugin author needs none of this to write a plugin; it is exported for test doubles
 * and tools that want to speak the contract.
 * @packageDocumentation
 */
import type { HostServices } from './plugin.js';

/** A namespace of the plugin context's host services: `heimdall`, `database`, `bifrost`. */
export type HostNamespace = keyof HostServices;

/** The method names of one namespace, such as `'invokeAction'` for `'heimdall'`. */
export type HostMethodName<N extends HostNamespace> = keyof HostServices[N] & string;

/** The wire name of every host method: `'heimdall.invokeAction'`, `'database.query'`, … */
export type HostMethod = { [N in HostNamespace]: `${N}.${HostMethodName<N>}` }[HostNamespace];

/** Wire name → the method's signature, as the SDK interfaces declare it. */
export type HostContract = {
  [K in HostMethod]: K extends `${infer N extends HostNamespace}.${infer M}` ? (M extends HostMethodName<N> ? HostServices[N][M] : never) : never;
};

/** The arguments of a host method, as the plugin passes them. */
export type HostArgs<K extends HostMethod> = Parameters<HostContract[K]>;

/** What a host method resolves with. */
export type HostResult<K extends HostMethod> = Awaited<ReturnType<HostContract[K]>>;

/**
 * Every host method, by namespace. The type makes this table list each method of each service
 * interface exactly once: a method added to `BifrostClient` without an entry here is a compile
 * error, and so is an entry for a method that does not exist.
 */
const METHODS_BY_NAMESPACE: { readonly [N in HostNamespace]: { readonly [M in HostMethodName<N>]-?: true } } = {
  heimdall: { invokeAction: true, invokeActionAsync: true, sendPrompt: true, sendPromptAsync: true, sendRawPrompt: true },
  database: { query: true },
  bifrost: { sendMessage: true, sendNotification: true, broadcast: true, requestConfirmation: true, requestConfirmationAnswer: true, isConnected: true, connectionCount: true },
};

/** The namespaces, in the order the plugin context lists them. */
export const HOST_NAMESPACES: readonly HostNamespace[] = Object.freeze(Object.keys(METHODS_BY_NAMESPACE) as HostNamespace[]);

/** The method names of one namespace, in declaration order. */
export function hostMethodNames<N extends HostNamespace>(namespace: N): readonly HostMethodName<N>[] {
  return Object.keys(METHODS_BY_NAMESPACE[namespace]) as HostMethodName<N>[];
}

/** Every host method's wire name. */
export const HOST_METHODS: readonly HostMethod[] = Object.freeze(
  HOST_NAMESPACES.flatMap((n) => hostMethodNames(n).map((m) => `${n}.${m}` as HostMethod)),
);

const KNOWN = new Set<string>(HOST_METHODS);

/** Whether `value` is the wire name of a host method (it came from the other side of a port). */
export function isHostMethod(value: unknown): value is HostMethod {
  return typeof value === 'string' && KNOWN.has(value);
}
