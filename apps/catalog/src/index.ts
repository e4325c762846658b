import path from 'node:path';
import { FILESET, subjects } from '@acai/contracts';
import { blobStoreFromUrl } from '@acai/blobstore';
import { BlobStore } from '@acai/blobstore';
import { ProjectionControl, ProjectionRunner } from '@acai/eventing';
import type { ServiceDefinition, ServiceMetrics } from '@acai/platform';
import { DefaultQuota } from './blobs/blobs.handler.js';
import {
  CatalogBlobOwners1764200300000,
  CatalogUploadSweep1796500000000,
} from './blobs/blobs.migration.js';
import {
  BlobsRepository,
  SqlBlobsRepository,
  StorageRepository,
} from './blobs/blobs.repository.js';
import { UploadSweeper, type SweepMetrics } from './blobs/upload-sweeper.js';
import { CatalogModule } from './catalog.module.js';
import { catalogConfig } from './config.js';
import { FilesetRepository } from './filesets/fileset.repository.js';
import { ManifestsRepository } from './filesets/manifests.repository.js';
import {
  CatalogBlobRefs1764200200000,
  CatalogSearch1764200000000,
  CatalogSearchLatest1764200100000,
} from './search/search.migration.js';
import { SearchProjection } from './search/search.projection.js';
import { SearchRepository, SqlSearchRepository } from './search/search.repository.js';

export { catalogConfig } from './config.js';
export { UploadSweeper, type SweepReport } from './blobs/upload-sweeper.js';

export const catalogService: ServiceDefinition<typeof catalogConfig> = {
  name: 'catalog',
  config: catalogConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: CatalogModule,
  migrations: [
    CatalogSearch1764200000000,
    CatalogSearchLatest1764200100000,
    CatalogBlobRefs1764200200000,
    CatalogBlobOwners1764200300000,
    CatalogUploadSweep1796500000000,
  ],
  providers: (ctx) => {
    const store = blobStoreFromUrl(
      ctx.config.ACAI_BLOB_STORE ?? path.resolve(ctx.config.ACAI_HOME, 'blobs'),
    );
    const schema = ctx.config.ACAI_DB_SCHEMA ?? 'catalog';
    const manifests = new ManifestsRepository(store);
    const blobsOf = async (sha: string) =>
      [...(await manifests.load(sha)).values()].map((e) => e.sha256);
    // The search tables follow the file set events; nothing else is read.
    const runner = new ProjectionRunner(
      ctx.bus,
      ctx.db,
      [new SearchProjection(schema, blobsOf)],
      ctx.deadLetters,
      {
        logger: ctx.logger,
        filterSubject: subjects.aggregateType(ctx.bus.topology, FILESET),
      },
    );
    const blobs = new SqlBlobsRepository(ctx.db, schema);
    const sweeper = new UploadSweeper(blobs, store, sweepMetrics(ctx.metrics), ctx.logger, {
      graceSeconds: ctx.config.ACAI_UPLOAD_GRACE_SECONDS,
      intervalMs: ctx.config.ACAI_UPLOAD_GC_INTERVAL_SECONDS * 1000,
    });
    return [
      { provide: FilesetRepository, useValue: new FilesetRepository(ctx.store) },
      { provide: ManifestsRepository, useValue: manifests },
      { provide: BlobStore, useValue: store },
      { provide: SearchRepository, useValue: new SqlSearchRepository(ctx.db, schema) },
      { provide: BlobsRepository, useValue: blobs },
      { provide: StorageRepository, useValue: blobs },
      { provide: DefaultQuota, useValue: new DefaultQuota(ctx.config.ACAI_PROJECT_QUOTA_BYTES) },
      { provide: UploadSweeper, useValue: sweeper },
      { provide: ProjectionRunner, useValue: runner },
      { provide: ProjectionControl, useValue: runner },
    ];
  },
  observers: (get) => [{ aggregate: FILESET, observe: (e) => get(FilesetRepository).observe(e) }],
  onStarted: async (app) => {
    await app.get(ProjectionRunner).start();
    app.get(UploadSweeper).start();
  },
  onClosing: async (app) => {
    await app.get(UploadSweeper).stop();
    await app.get(ProjectionRunner).stop();
  },
};

/** The sweep's counters, at the catalog's /metrics. */
function sweepMetrics(metrics: ServiceMetrics): SweepMetrics {
  const sweeps = metrics.counter(
    'acai_upload_sweeps_total',
    'Sweeps of uploads never committed, by outcome (skipped: another replica was sweeping)',
    ['outcome'],
  );
  const forgotten = metrics.counter(
    'acai_upload_ownerships_forgotten_total',
    'Ownerships of blobs no version of their project used, forgotten after the grace period',
  );
  const forgottenBytes = metrics.counter(
    'acai_upload_ownership_bytes_forgotten_total',
    'Bytes those ownerships counted against their projects’ quotas',
  );
  const deleted = metrics.counter(
    'acai_upload_blobs_deleted_total',
    'Blobs the sweep deleted from the store: nobody owned or used them any more',
  );
  const deletedBytes = metrics.counter(
    'acai_upload_bytes_deleted_total',
    'Bytes of the blobs the sweep deleted from the store',
  );
  const sized = metrics.counter(
    'acai_upload_blobs_sized_total',
    'Owned blobs of an earlier release whose size the sweep read from the store',
  );
  return {
    swept(outcome, report) {
      sweeps.inc({ outcome });
      if (report === undefined) return;
      forgotten.inc(report.forgotten);
      forgottenBytes.inc(report.forgottenBytes);
      deleted.inc(report.deleted);
      deletedBytes.inc(report.deletedBytes);
      sized.inc(report.sized);
    },
  };
}
