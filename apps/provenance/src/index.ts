import type { Projection } from '@acai/contracts';
import { appliedWithin, ProjectionControl, ProjectionRunner } from '@acai/eventing';
import {
  nonNegativeInt,
  port,
  positiveInt,
  type ConfigSpec,
  type ServiceDefinition,
} from '@acai/platform';
import { jobHistoryProjection, jobsProjection, runsProjection, trialsProjection } from '@acai/runs';
import { HistoryHandler } from './history/history.handler.js';
import { ReadModels, SqlReadModels } from './history/read-models.repository.js';
import { ProvenanceModule } from './provenance.module.js';
import { ProvenanceMetrics1764300000000 } from './metrics/metrics.migration.js';
import { MetricsProjection } from './metrics/metrics.projection.js';
import { MetricsRepository, SqlMetricsRepository } from './metrics/metrics.repository.js';
import { ExperimentGraphHandler, ExperimentGraphSource } from './graph/experiment-graph.handler.js';
import { MaterializeHandler } from './materialize/materialize.handler.js';
import { ProvenanceMaterialization1797100000000 } from './materialize/materialize.migration.js';
import { Materializer } from './materialize/materializer.js';
import { ReuseHandler } from './reuse/reuse.handler.js';
import { ReuseLookup } from './reuse/reuse-lookup.js';
import { SharingProjection } from './reuse/sharing.projection.js';
import { ProvenanceReuseSharing1797200000000 } from './reuse/sharing.migration.js';
import { ReuseSharing } from './reuse/sharing.repository.js';
import { ProvenanceJobSignatures1796900000000 } from './reuse/signatures.migration.js';
import { SignaturesProjection } from './reuse/signatures.projection.js';
import { SignaturesRepository, SqlSignaturesRepository } from './reuse/signatures.repository.js';
import { LineageHandler } from './lineage/lineage.handler.js';
import { lineageMigrations } from './lineage/lineage.migration.js';
import { LineageProjection } from './lineage/lineage.projection.js';
import { LineageRepository, SqlLineageRepository } from './lineage/lineage.repository.js';
import { ProvenanceRunTimeline1797000000000 } from './timeline/timeline.migration.js';
import { RunTimelineProjection } from './timeline/timeline.projection.js';
import { SqlTimelineRepository, TimelineRepository } from './timeline/timeline.repository.js';
import { TimelineHandler } from './timeline/timeline.handler.js';

export const provenanceConfig = {
  ACAI_HTTP_PORT: { schema: port(8185), description: 'Port of provenance’s ops endpoints' },
  ACAI_REPLAY_BATCH_SIZE: {
    schema: positiveInt(4_000),
    description:
      'Events applied per transaction while a replay builds a read model beside the live one (bigger is faster, and holds more in memory)',
  },
  ACAI_PROJECTION_BATCH_INTERVAL_MS: {
    schema: nonNegativeInt(50),
    description:
      'While events keep coming, the shortest time between two transactions of the read models: the events of a busy moment are applied together (an event after a quiet spell at once); 0 applies each batch as soon as it arrives',
  },
  ACAI_REPLAY_STALE_SECONDS: {
    schema: positiveInt(15),
    description:
      'A replay whose builder (a provenance process) has not reported for this long is taken over by another, or by the same one restarted',
  },
  ACAI_MATERIALIZE_INTERVAL_MS: {
    schema: nonNegativeInt(30_000),
    description:
      'How often the materializer weighs the projects that have a storage budget and evicts the derived artifacts of lowest utility beyond it (0: only when a budget is set)',
  },
} satisfies ConfigSpec;

/** Every read model provenance keeps, by name. */
export const projections: ReadonlyArray<Projection<unknown>> = [
  runsProjection as Projection<unknown>,
  jobsProjection as Projection<unknown>,
  jobHistoryProjection as Projection<unknown>,
  trialsProjection as Projection<unknown>,
];

export const provenanceService: ServiceDefinition<typeof provenanceConfig> = {
  name: 'provenance',
  config: provenanceConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: ProvenanceModule,
  migrations: [
    ProvenanceMetrics1764300000000,
    ProvenanceJobSignatures1796900000000,
    ProvenanceRunTimeline1797000000000,
    ...lineageMigrations,
    ProvenanceMaterialization1797100000000,
    ProvenanceReuseSharing1797200000000,
  ],
  providers: (ctx) => {
    // One runner for all of them: each event is read and decoded once, and applied to every read
    // model in one transaction; each keeps its own checkpoint, so one can be replayed alone.
    const schema = ctx.config.ACAI_DB_SCHEMA ?? 'provenance';
    const metrics = new MetricsProjection(schema);
    // The reuse lookup answers from memory: its index follows both tables' projections.
    const lookup = new ReuseLookup(ctx.logger);
    const signatures = new SignaturesProjection(schema, lookup.signatures);
    const sharingProjection = new SharingProjection(schema, lookup.sharing);
    const lineage = new LineageProjection(schema);
    const timeline = new RunTimelineProjection(schema);
    const runner = new ProjectionRunner(
      ctx.bus,
      ctx.db,
      [...projections, metrics, signatures, sharingProjection, lineage, timeline],
      ctx.deadLetters,
      {
        logger: ctx.logger,
        replayBatchSize: ctx.config.ACAI_REPLAY_BATCH_SIZE,
        replayStaleSeconds: ctx.config.ACAI_REPLAY_STALE_SECONDS,
        minBatchIntervalMs: ctx.config.ACAI_PROJECTION_BATCH_INTERVAL_MS,
      },
    );
    const sharing = new ReuseSharing(ctx.db, schema, ctx.store, (seq, timeoutMs) =>
      appliedWithin(runner, seq, timeoutMs),
    );
    const checkpoints = `"${schema.replace(/"/g, '""')}".projection_checkpoints`;
    const replays = `"${schema.replace(/"/g, '""')}".projection_replays`;
    const signed = new SqlSignaturesRepository(
      ctx.db,
      signatures,
      sharing.table(),
      checkpoints,
      replays,
      lineage.nodes(),
    );
    lookup.fallBackTo(signed);
    return [
      { provide: ReadModels, useValue: new SqlReadModels(ctx.db) },
      { provide: ReuseSharing, useValue: sharing },
      { provide: ProjectionRunner, useValue: runner },
      { provide: ProjectionControl, useValue: runner },
      { provide: MetricsRepository, useValue: new SqlMetricsRepository(ctx.db, metrics) },
      { provide: ExperimentGraphSource, useValue: { db: ctx.db, schema } },
      {
        provide: Materializer,
        useValue: new Materializer(
          ctx.db,
          schema,
          ctx.commands,
          ctx.logger,
          ctx.config.ACAI_MATERIALIZE_INTERVAL_MS,
        ),
      },
      {
        provide: SignaturesRepository,
        useValue: signed,
      },
      { provide: ReuseLookup, useValue: lookup },
      { provide: SqlSignaturesRepository, useValue: signed },
      { provide: LineageRepository, useValue: new SqlLineageRepository(ctx.db, lineage) },
      { provide: TimelineRepository, useValue: new SqlTimelineRepository(ctx.db, timeline) },
    ];
  },
  onStarted: async (app) => {
    const runner = app.get(ProjectionRunner);
    await runner.start();
    // Loaded once the runner has started: what it commits meanwhile is kept and applied after.
    await app
      .get(ReuseLookup)
      .start(app.get(SqlSignaturesRepository), (timeoutMs) => runner.catchUp(timeoutMs));
    app.get(Materializer).start();
  },
  onClosing: async (app) => {
    app.get(ReuseLookup).stop();
    await app.get(Materializer).stop();
    await app.get(ProjectionRunner).stop();
  },
};

export {
  ExperimentGraphHandler,
  HistoryHandler,
  LineageHandler,
  MaterializeHandler,
  ReuseHandler,
  TimelineHandler,
};
