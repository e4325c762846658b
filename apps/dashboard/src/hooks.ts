import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, describeError } from './api.js';

export interface Loaded<T> {
  readonly data: T | undefined;
  /** What went wrong on the last load (the data of the one before stays shown). */
  readonly error: string | undefined;
  readonly loading: boolean;
  readonly reload: () => void;
}

/**
 * Loads data when `deps` change, and again every `pollMs(data)` milliseconds while that is a
 * number (null: stop, as when a run has ended). A load in flight is aborted when deps change.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  pollMs: (data: T) => number | null = () => null,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const poll = useRef(pollMs);
  poll.current = pollMs;
  const reload = useCallback(() => setGeneration((n) => n + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      setLoading(true);
      try {
        const value = await load(controller.signal);
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
        const next = poll.current(value);
        if (next !== null) timer = setTimeout(() => void run(), next);
      } catch (failure) {
        if (controller.signal.aborted) return;
        setError(describeError(failure));
        // The gateway may be restarting: try again. A refusal (4xx) stays as it is.
        if (!(failure instanceof ApiError && failure.status < 500)) {
          timer = setTimeout(() => void run(), 5000);
        }
      } finally {
        if (!controller.signal.aborted) setLoading(false);
      }
    };
    setData(undefined);
    void run();
    return () => {
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [...deps, generation]);

  return { data, error, loading, reload };
}
