import { JOB, subjects } from '@acai/contracts';
import { BusJobControl, ProjectionRunner } from '@acai/eventing';
import type { ServiceDefinition } from '@acai/platform';
import { activeAttemptEvents, activeAttemptsProjection, type ActiveAttempt } from '@acai/runs';
import { schedulerConfig } from './config.js';
import { JobRepository } from './runs/job.repository.js';
import { RunRepository } from './runs/run.repository.js';
import { SchedulerModule } from './scheduler.module.js';
import { SqlActiveAttempts } from './watchdog/active-attempts.repository.js';
import { AttemptWatchdog } from './watchdog/attempt-watchdog.js';
import { BusNodeHeartbeats } from './watchdog/node-heartbeats.js';

/** The watchdog's read model (which attempts run) and the watchdog, started and stopped together. */
class Watch {
  constructor(
    readonly attempts: ProjectionRunner<ActiveAttempt>,
    readonly watchdog: AttemptWatchdog,
  ) {}
}

export const schedulerService: ServiceDefinition<typeof schedulerConfig> = {
  name: 'scheduler',
  config: schedulerConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: SchedulerModule,
  // The composition root: the bus and the database stop here.
  providers: (ctx) => {
    const jobs = new JobRepository(ctx.store);
    const attempts = new ProjectionRunner(
      ctx.bus,
      ctx.db,
      activeAttemptsProjection,
      ctx.deadLetters,
      {
        logger: ctx.logger,
        filterSubject: subjects.aggregateType(ctx.bus.topology, JOB),
        accepts: (type) => activeAttemptEvents.has(type),
      },
    );
    const watchdog = new AttemptWatchdog({
      attempts: new SqlActiveAttempts(ctx.db),
      jobs,
      heartbeats: new BusNodeHeartbeats(ctx.bus, ctx.logger),
      control: new BusJobControl(ctx.bus, ctx.logger),
      lostAfterMs: ctx.config.ACAI_JOB_LOST_AFTER_MS,
      logger: ctx.logger,
    });
    return [
      { provide: RunRepository, useValue: new RunRepository(ctx.store) },
      { provide: JobRepository, useValue: jobs },
      { provide: Watch, useValue: new Watch(attempts, watchdog) },
    ];
  },
  observers: (get) => [
    { aggregate: 'run', observe: (e) => get(RunRepository).observe(e) },
    { aggregate: 'job', observe: (e) => get(JobRepository).observe(e) },
  ],
  onStarted: async (app) => {
    const watch = app.get(Watch);
    await watch.attempts.start();
    watch.watchdog.start();
  },
  onClosing: async (app) => {
    const watch = app.get(Watch);
    await watch.watchdog.stop();
    await watch.attempts.stop();
  },
};
