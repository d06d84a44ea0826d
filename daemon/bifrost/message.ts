/**
 * The shape of one Bifrost message: what the bus publishes, the SSE hub streams, filters match and
 * sinks write. Kept apart from the bus so the parts that only read messages do not import it.
 */
import type { NotificationLevel } from '../../sdk/index.js';

export type BifrostKind = 'message' | 'notification' | 'broadcast' | 'confirmation_request' | 'confirmation_result';

export interface BifrostOrigin {
  /** 'daemon' for the daemon's own notices, 'plugin' for plugins, 'operator' for operators. */
  kind: 'daemon' | 'plugin' | 'operator';
  plugin?: string;
  invocationId?: string;
}

export interface BifrostMessage {
  id: number;
  kind: BifrostKind;
  timestamp: string;
  level: NotificationLevel;
  title?: string;
  message: string;
  data?: Record<string, unknown>;
  origin: BifrostOrigin;
}

export type BifrostInput = Omit<BifrostMessage, 'id' | 'timestamp' | 'level'> & { level?: NotificationLevel };
