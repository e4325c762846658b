import { JOB, RUN, subjects } from '@acai/contracts';
import { ProjectionRunner } from '@acai/eventing';
import { sharedEnsure } from '@acai/execution';
import type { ServiceDefinition } from '@acai/platform';
import { offerKey, PlacementWaits } from '@acai/provisioning';
import { jobDecider } from '@acai/runs';
import {
  AllocationHandler,
  ObservationsReady,
  ProvisionerJobs,
} from './allocation/allocation.handler.js';
import { AutoProvisioner } from './autoprovision/auto-provisioner.js';
import { ProvisionerAutoprovision1764400000000 } from './autoprovision/autoprovision.migration.js';
import {
  ObservationsProjection,
  observationEvents,
} from './autoprovision/observations.projection.js';
import { ProvisionerObservationsCheckpoints1797300000000 } from './autoprovision/observations-checkpoints.migration.js';
import { ProvisionerObservationsResumed1796800000000 } from './autoprovision/observations-resumed.migration.js';
import { ProvisionerPlacementWaits1797400000000 } from './autoprovision/placement-waits.migration.js';
import {
  PlacementWaitsProjection,
  placementWaitEvents,
} from './autoprovision/placement-waits.projection.js';
import { ProvisionerProfilingInTheLog1764900000000 } from './autoprovision/profiling-in-the-log.migration.js';
import { ProfileRepository, ProvisionerRuns } from './autoprovision/profile.repository.js';
import { provisionerConfig } from './config.js';
import { NodeRegistry } from './nodes/node-registry.js';
import { OfferBook } from './offers/offer-book.js';
import { Ec2Provider } from './providers/ec2/ec2.provider.js';
import { LocalProvider } from './providers/local/local.provider.js';
import type { Provider } from './providers/provider.js';
import { Providers } from './providers/providers.js';
import {
  serveStatsOnBus,
  SimulatedProvider,
  simulatedCheckpointsInCatalog,
  simulatedExecutorsOnBus,
} from './providers/simulated/simulated.provider.js';
import { ProvisionerModule } from './provisioner.module.js';

/** The observations and placement-waits projections, which the provisioner runs itself. */
class ObservationsRunner {
  constructor(
    readonly runner: ProjectionRunner,
    /** Loads the placement waits' copy in memory before the runner starts. */
    readonly restore: () => Promise<void>,
  ) {}
}

export const provisionerService: ServiceDefinition<typeof provisionerConfig> = {
  name: 'provisioner',
  config: provisionerConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: ProvisionerModule,
  migrations: [
    ProvisionerAutoprovision1764400000000,
    ProvisionerProfilingInTheLog1764900000000,
    ProvisionerObservationsResumed1796800000000,
    ProvisionerObservationsCheckpoints1797300000000,
    ProvisionerPlacementWaits1797400000000,
  ],
  providers: (ctx) => {
    const schema = ctx.config.ACAI_DB_SCHEMA ?? 'provisioner';
    const book = new OfferBook(ctx.config);
    const list: Provider[] = ctx.config.ACAI_PROVIDERS.map((name): Provider => {
      switch (name) {
        case 'local':
          return new LocalProvider();
        case 'ec2':
          return new Ec2Provider(() => book.offers(['ec2']), {
            config: ctx.config,
            logger: ctx.logger,
          });
        case 'simulated':
          // The EC2 fleet on a simulated cloud and virtual clock (providers/simulated/README.md).
          return new SimulatedProvider(() => book.offers(['simulated']), {
            config: ctx.config,
            executors: simulatedExecutorsOnBus(
              ctx.bus,
              ctx.store,
              ctx.config,
              simulatedCheckpointsInCatalog(ctx.commands),
              ctx.logger,
              sharedEnsure((project) => ctx.commands.send('ensureLogStream', { project })),
            ),
            serveStats: serveStatsOnBus(ctx.bus),
            logger: ctx.logger,
          });
      }
    });
    const providers = new Providers(book, list);
    const profiles = new ProfileRepository(ctx.store);
    const observations = new ObservationsProjection(schema);
    const waits = new PlacementWaitsProjection(
      schema,
      new PlacementWaits(),
      (provider, name) =>
        book.offers([provider]).find((o) => offerKey(o) === name)?.bootSeconds ?? 0,
    );
    const runner = new ProjectionRunner(ctx.bus, ctx.db, [observations, waits], ctx.deadLetters, {
      logger: ctx.logger,
      // Only job events come (a run's are not delivered at all), and a transaction only for a
      // batch with one they read; while they keep coming, one transaction per interval.
      filterSubject: subjects.aggregateType(ctx.bus.topology, JOB),
      accepts: (type) => observationEvents.has(type) || placementWaitEvents.has(type),
      minBatchIntervalMs: ctx.config.ACAI_PROJECTION_BATCH_INTERVAL_MS,
    });
    const nodes = new NodeRegistry(ctx.bus, list, (heartbeat) => {
      if (heartbeat.instanceType === null) return null;
      return book.offers().find((o) => o.name === heartbeat.instanceType)?.pricePerHour ?? null;
    });
    return [
      { provide: ProvisionerJobs, useValue: new ProvisionerJobs(ctx.store, JOB, jobDecider) },
      { provide: Providers, useValue: providers },
      {
        provide: AutoProvisioner,
        useValue: new AutoProvisioner(
          book,
          (project, signature) => observations.observations(ctx.db, project, signature),
          ctx.config.ACAI_PROFILING_RUNS,
          async (project, signature) =>
            (await profiles.load(project, signature)).state.status === 'profiled',
          waits.waits,
        ),
      },
      { provide: ProfileRepository, useValue: profiles },
      { provide: ProvisionerRuns, useValue: new ProvisionerRuns(ctx.store) },
      {
        provide: ObservationsRunner,
        useValue: new ObservationsRunner(runner, () => waits.restore(ctx.db)),
      },
      // A run's end is outside the runner's filter: the wait is for the job events before it.
      {
        provide: ObservationsReady,
        useValue: new ObservationsReady((seq) => runner.waitForLog(seq)),
      },
      { provide: NodeRegistry, useValue: nodes },
    ];
  },
  observers: (get) => [
    { aggregate: JOB, observe: (e) => get(ProvisionerJobs).observe(e) },
    // A run's origin comes with its first event: a run that ends is known without a read.
    { aggregate: RUN, observe: (e) => get(ProvisionerRuns).observe(e) },
  ],
  onStarted: async (app) => {
    // The placement margins as the log left them, before the first placement or plan.
    await app.get(ObservationsRunner).restore();
    await app.get(ObservationsRunner).runner.start();
    await app.get(Providers).start();
    app.get(NodeRegistry).start();
  },
  onClosing: async (app) => {
    app.get(NodeRegistry).stop();
    await app.get(Providers).stop();
    await app.get(ObservationsRunner).runner.stop();
  },
};

export { AllocationHandler, NodeRegistry, Providers };
