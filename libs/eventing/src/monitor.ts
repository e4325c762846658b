import type { TransientKind } from './failures.js';

/**
 * What consumers report about their failures, for the service's metrics (the platform counts them
 * in Prometheus). Consumers are named as their dead letters are: a durable's name, or
 * `projection:<name>`.
 */
export interface ConsumerMonitor {
  /** A message of `consumer` started (+1) or stopped (-1) waiting for a dependency or a race. */
  waiting(consumer: string, delta: 1 | -1): void;
  /** A try failed in a way that is retried without counting as an attempt. */
  retried(consumer: string, kind: TransientKind): void;
  /** A message was sent to dead letters (again, when a redriven one failed again). */
  deadLettered(consumer: string, reason: string): void;
  /** An event of `type` was handled (its handler succeeded); optional for monitors that ignore it. */
  handled?(consumer: string, type: string): void;
}

export const silentMonitor: ConsumerMonitor = {
  waiting: () => undefined,
  retried: () => undefined,
  deadLettered: () => undefined,
};
