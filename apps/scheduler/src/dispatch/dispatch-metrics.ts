import type { EventingLogger } from '@acai/eventing';
import type { ServiceMetrics } from '@acai/platform';
import type { DispatchReport } from './dispatcher.js';

/** How often the jobs waiting for a slot are logged, when some are. */
const LOG_EVERY_MS = 30_000;

/**
 * The dispatcher's figures at /metrics, as of its last pass (the replica that dispatches reports
 * them; one that no longer does keeps its last ones: read the leader's, or aggregate with `max`):
 *
 * - `acai_dispatch_waiting_jobs{pool,project}`: placed jobs held for a slot;
 * - `acai_dispatch_out_jobs{pool}`: jobs dispatched or running;
 * - `acai_dispatch_pool_slots{pool}`: slots of a gated pool (absent: the pool is not gated);
 * - `acai_dispatch_released_total{pool}`: jobs this process released.
 *
 * And a log line every 30 s while jobs wait, per pool and project.
 */
export function dispatchMetrics(
  metrics: ServiceMetrics,
  logger: EventingLogger,
  clock: () => number = Date.now,
): (report: DispatchReport) => void {
  const waiting = metrics.gauge(
    'acai_dispatch_waiting_jobs',
    'Placed jobs the dispatcher holds until their pool has a free slot, by pool and project',
    ['pool', 'project'],
  );
  const out = metrics.gauge(
    'acai_dispatch_out_jobs',
    'Jobs dispatched to their pool’s work queue or running, by pool',
    ['pool'],
  );
  const slots = metrics.gauge(
    'acai_dispatch_pool_slots',
    'Slots of a pool whose size its nodes report (a pool not listed is not gated)',
    ['pool'],
  );
  const released = metrics.counter(
    'acai_dispatch_released_total',
    'Jobs this process released to their pool’s work queue',
    ['pool'],
  );
  let loggedAt = 0;
  return (report) => {
    waiting.reset();
    for (const [pool, projects] of report.waiting) {
      for (const [project, jobs] of projects) waiting.set({ pool, project }, jobs);
    }
    out.reset();
    for (const [pool, jobs] of report.out) out.set({ pool }, jobs);
    slots.reset();
    for (const [pool, n] of report.capacity) slots.set({ pool }, n);
    for (const job of report.released) released.inc({ pool: job.pool });
    const now = clock();
    if (report.waiting.size > 0 && now - loggedAt >= LOG_EVERY_MS) {
      loggedAt = now;
      for (const [pool, projects] of report.waiting) {
        logger.info(
          {
            pool,
            slots: report.capacity.get(pool) ?? null,
            out: report.out.get(pool) ?? 0,
            waiting: Object.fromEntries(projects),
          },
          'jobs wait for a slot of their pool',
        );
      }
    }
  };
}
