import { JOB, subjects, type Projection } from '@acai/contracts';
import {
  appliedWithin,
  BusJobControl,
  BusNodeHeartbeats,
  currentTrace,
  ProjectionRunner,
} from '@acai/eventing';
import type { ServiceDefinition } from '@acai/platform';
import {
  activeAttemptEvents,
  activeAttemptsProjection,
  dispatchQueueEvents,
  dispatchQueueProjection,
} from '@acai/runs';
import { schedulerConfig } from './config.js';
import { CodeHasher } from './runs/code-hasher.js';
import { ReusePlanner } from './runs/reuse-planner.js';
import { RunsHandler } from './runs/runs.handler.js';
import { dispatchMetrics } from './dispatch/dispatch-metrics.js';
import { SchedulerDispatchQueue1796700000000 } from './dispatch/dispatch-queue.migration.js';
import { SqlDispatchQueue } from './dispatch/dispatch-queue.repository.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { PlacementTraces } from './dispatch/placement-traces.js';
import { PoolCapacity } from './dispatch/pool-capacity.js';
import { JobRepository } from './runs/job.repository.js';
import { RunRepository } from './runs/run.repository.js';
import { SchedulerModule } from './scheduler.module.js';
import { SqlActiveAttempts } from './watchdog/active-attempts.repository.js';
import { AttemptWatchdog } from './watchdog/attempt-watchdog.js';

/**
 * The job events after which a dispatch pass may release something: a job placed, or a job out
 * (dispatched or running) that is no longer. A dispatch or a start changes nothing a pass would act
 * on (the pass that dispatched waited for it).
 */
const freesOrFillsASlot: ReadonlySet<string> = new Set([
  'job.provisioned',
  'job.succeeded',
  'job.failed',
  'job.cancelled',
  'job.skipped',
  'job.retry_scheduled',
]);

/**
 * The scheduler's read models (which attempts run, which jobs wait for a slot), the watchdog that
 * reads the first and the dispatcher that reads the second, started and stopped together.
 */
/** How long a shutdown waits for the rescale plans in flight to be answered and recorded. */
const RESCALE_PLANS_AT_SHUTDOWN_MS = 3000;

class Watch {
  constructor(
    readonly models: ProjectionRunner<unknown>,
    readonly watchdog: AttemptWatchdog,
    readonly dispatcher: Dispatcher,
    readonly traces: PlacementTraces,
  ) {}
}

export const schedulerService: ServiceDefinition<typeof schedulerConfig> = {
  name: 'scheduler',
  config: schedulerConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: SchedulerModule,
  migrations: [SchedulerDispatchQueue1796700000000],
  // The composition root: the bus and the database stop here.
  providers: (ctx) => {
    const jobs = new JobRepository(ctx.store);
    const heartbeats = new BusNodeHeartbeats(ctx.bus, ctx.logger);
    // One runner, one consumer of the job events and one transaction per batch for both models.
    const models = new ProjectionRunner<unknown>(
      ctx.bus,
      ctx.db,
      [
        activeAttemptsProjection as Projection<unknown>,
        dispatchQueueProjection as Projection<unknown>,
      ],
      ctx.deadLetters,
      {
        logger: ctx.logger,
        filterSubject: subjects.aggregateType(ctx.bus.topology, JOB),
        accepts: (type) => activeAttemptEvents.has(type) || dispatchQueueEvents.has(type),
        // A job placed, or one out that ended: the dispatcher looks again. (Called only once the
        // runner has started, after the dispatcher below exists.)
        onApplied: (_seq, types) => {
          for (const type of types) {
            if (freesOrFillsASlot.has(type)) return dispatcher.poke();
          }
        },
      },
    );
    const traces = new PlacementTraces();
    const dispatcher = new Dispatcher({
      queue: new SqlDispatchQueue(ctx.db),
      traces,
      jobs,
      capacity: new PoolCapacity(heartbeats),
      prefetch: ctx.config.ACAI_DISPATCH_PREFETCH,
      applied: (seq, timeoutMs) => appliedWithin(models, seq, timeoutMs),
      logger: ctx.logger,
      report: dispatchMetrics(ctx.metrics, ctx.logger),
    });
    const watchdog = new AttemptWatchdog({
      attempts: new SqlActiveAttempts(ctx.db),
      jobs,
      heartbeats,
      control: new BusJobControl(ctx.bus, ctx.logger),
      lostAfterMs: ctx.config.ACAI_JOB_LOST_AFTER_MS,
      logger: ctx.logger,
    });
    return [
      { provide: RunRepository, useValue: new RunRepository(ctx.store) },
      {
        provide: ReusePlanner,
        useValue: new ReusePlanner(
          ctx.commands,
          new CodeHasher(),
          ctx.logger,
          ctx.config.ACAI_JOB_PATH,
        ),
      },
      { provide: JobRepository, useValue: jobs },
      { provide: Watch, useValue: new Watch(models, watchdog, dispatcher, traces) },
    ];
  },
  observers: (get) => [
    { aggregate: 'run', observe: (e) => get(RunRepository).observe(e) },
    {
      aggregate: 'job',
      observe: (e) => {
        get(JobRepository).observe(e);
        // Seen in the placement's trace: the job's dispatch, made later by a pass, continues it.
        if (e.type === 'job.provisioned') get(Watch).traces.remember(e.aggregateId, currentTrace());
      },
    },
  ],
  onStarted: async (app) => {
    const watch = app.get(Watch);
    await watch.models.start();
    watch.watchdog.start();
    watch.dispatcher.start();
  },
  onClosing: async (app, ctx) => {
    // Rescale plans asked of the provisioner are recorded while the bus is still up, for at most
    // a few seconds: one that takes longer is asked again by its report, delivered again.
    if (!(await app.get(RunsHandler).whenPlanned(RESCALE_PLANS_AT_SHUTDOWN_MS))) {
      ctx.logger.info(
        { waitedMs: RESCALE_PLANS_AT_SHUTDOWN_MS },
        'rescale plans still in flight at shutdown are left: their reports, delivered again, ask again',
      );
    }
    const watch = app.get(Watch);
    await watch.dispatcher.stop();
    await watch.watchdog.stop();
    await watch.models.stop();
  },
};
