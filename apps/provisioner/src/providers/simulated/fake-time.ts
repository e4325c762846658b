import type { RealTime } from './virtual-clock.js';

/** Real time that only moves when a test says so, with the timers due on the way run in order. */
export interface FakeTime {
  readonly realTime: RealTime;
  /** Moves real time on by `ms`, running each timer due by then, earliest first. */
  advance(ms: number): void;
  /** Timers set and not yet run or cleared. */
  pending(): number;
}

export function fakeTime(): FakeTime {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    realTime: {
      now: () => now,
      setTimeout: (callback, ms) => {
        const id = nextId++;
        timers.set(id, { at: now + Math.max(0, ms), callback });
        return id;
      },
      clearTimeout: (handle) => {
        timers.delete(handle as number);
      },
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let due: [number, { at: number; callback: () => void }] | undefined;
        for (const entry of timers) {
          if (entry[1].at <= until && (due === undefined || entry[1].at < due[1].at)) due = entry;
        }
        if (due === undefined) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].callback();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}
