/** Small hooks: polling an API route, a ticking clock. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Poll<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Fetch again now (after an action). */
  refresh(): void;
}

/**
 * Calls `load` now and every `intervalMs` (never two at once; skipped while the tab is hidden).
 * `load` gets an AbortSignal that fires when the component goes away.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number, deps: readonly unknown[] = []): Poll<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const kick = useRef<() => void>(() => undefined);
  const loaded = useRef(false);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let again = false;
    const tick = async (): Promise<void> => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        if (!document.hidden || !loaded.current) {
          const v = await load(controller.signal);
          if (controller.signal.aborted) return;
          loaded.current = true;
          setData(v);
          setError(undefined);
        }
      } catch (err) {
        if (controller.signal.aborted || (err as Error).name === 'AbortError') return;
        setError(err instanceof ApiError ? err : new ApiError(0, undefined, (err as Error).message));
      } finally {
        running = false;
      }
      if (controller.signal.aborted) return;
      if (again) {
        again = false;
        void tick();
      } else {
        timer = setTimeout(() => void tick(), intervalMs);
      }
    };
    kick.current = () => void tick();
    void tick();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, deps);
  const refresh = useCallback(() => kick.current(), []);
  return { data, error, refresh };
}

/** The current time, updated every `ms`. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
