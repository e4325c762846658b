import type { Bus } from '@acai/eventing';
import type { ServiceMetrics } from '@acai/platform';

/**
 * The bus as the gateway sees it, read from JetStream at each scrape (the same on every replica:
 * aggregate with `max`):
 *
 * - `acai_event_log_last_seq`: the events stream's last sequence; its `rate()` is events per second.
 * - `acai_stream_consumer_pending{stream,consumer}`: messages a durable consumer of the events or
 *   work stream has not had acknowledged yet (not delivered, or delivered and not acknowledged):
 *   its lag, and on the work stream its pool's queue.
 *
 * Ephemeral consumers (subscribers' event streams) are left out. When the bus does not answer, the
 * last values stand and /metrics still answers.
 */
export function busMetrics(metrics: ServiceMetrics, bus: Bus): void {
  const { events, work } = bus.topology.streams;
  metrics.gauge('acai_event_log_last_seq', 'Last sequence of the events stream', [], async (g) => {
    try {
      g.set((await bus.jsm.streams.info(events)).state.last_seq);
    } catch {
      // The last value stands.
    }
  });
  metrics.gauge(
    'acai_stream_consumer_pending',
    'Messages a durable consumer has not had acknowledged yet (its lag), by stream and consumer',
    ['stream', 'consumer'],
    async (g) => {
      for (const stream of [events, work]) {
        try {
          for (const c of await bus.jsm.consumers.list(stream).next()) {
            if (c.config.durable_name === undefined) continue;
            g.set({ stream, consumer: c.name }, c.num_pending + c.num_ack_pending);
          }
        } catch {
          // The last values stand.
        }
      }
    },
  );
}
