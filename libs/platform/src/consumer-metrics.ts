import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConsumerMonitor, TransientKind } from '@acai/eventing';

/**
 * The consumers' metrics, in the service's registry:
 *
 * - `acai_consumer_waiting{consumer}`: messages waiting now for a dependency (or a lost race) to be
 *   handled; they wait as long as it takes, so a value that stays up is an outage to look at.
 * - `acai_consumer_transient_failures_total{consumer,kind}`: tries that failed for want of a
 *   dependency (`unavailable`) or a lost race (`conflict`): not counted as attempts.
 * - `acai_dead_letters_total{consumer,reason}`: messages this process sent to dead letters.
 * - `acai_events_handled_total{consumer,type}`: events its handlers handled, by type (the
 *   scheduler's `job.succeeded`, `job.failed` … are the jobs' outcomes).
 * - `acai_dead_letters{consumer}`: letters in the service's table now, read at each scrape (every
 *   replica reports the same table: aggregate with `max`, not `sum`).
 */
export class ConsumerMetrics implements ConsumerMonitor {
  private readonly waitingGauge: Gauge<'consumer'>;
  private readonly transient: Counter<'consumer' | 'kind'>;
  private readonly letters: Counter<'consumer' | 'reason'>;
  private readonly handledEvents: Counter<'consumer' | 'type'>;

  constructor(
    registry: Registry,
    /** Letters per consumer in the table (PostgresDeadLetters.counts). */
    count: () => Promise<ReadonlyMap<string, number>>,
  ) {
    this.waitingGauge = new Gauge({
      name: 'acai_consumer_waiting',
      help: 'Messages waiting for a dependency (or a lost race) to be handled, by consumer',
      labelNames: ['consumer'],
      registers: [registry],
    });
    this.transient = new Counter({
      name: 'acai_consumer_transient_failures_total',
      help: 'Handler tries that failed for want of a dependency or a lost race (not attempts)',
      labelNames: ['consumer', 'kind'],
      registers: [registry],
    });
    this.letters = new Counter({
      name: 'acai_dead_letters_total',
      help: 'Messages this process sent to dead letters, by consumer and reason',
      labelNames: ['consumer', 'reason'],
      registers: [registry],
    });
    this.handledEvents = new Counter({
      name: 'acai_events_handled_total',
      help: 'Events the service’s handlers handled, by consumer and event type',
      labelNames: ['consumer', 'type'],
      registers: [registry],
    });
    // Consumers seen with letters: shown at 0 once their letters are gone, not dropped.
    const seen = new Set<string>();
    new Gauge({
      name: 'acai_dead_letters',
      help: 'Dead letters in the service’s table now, by consumer (the same on every replica)',
      labelNames: ['consumer'],
      registers: [registry],
      async collect() {
        let counts: ReadonlyMap<string, number>;
        try {
          counts = await count();
        } catch {
          // The database is away: the last values stand, and /metrics still answers.
          return;
        }
        for (const consumer of counts.keys()) seen.add(consumer);
        for (const consumer of seen) this.set({ consumer }, counts.get(consumer) ?? 0);
      },
    });
  }

  waiting(consumer: string, delta: 1 | -1): void {
    if (delta > 0) this.waitingGauge.inc({ consumer });
    else this.waitingGauge.dec({ consumer });
  }

  retried(consumer: string, kind: TransientKind): void {
    this.transient.inc({ consumer, kind });
  }

  deadLettered(consumer: string, reason: string): void {
    this.letters.inc({ consumer, reason });
  }

  handled(consumer: string, type: string): void {
    this.handledEvents.inc({ consumer, type });
  }
}
