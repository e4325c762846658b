import path from 'node:path';
import { FILESET, subjects } from '@acai/contracts';
import { blobStoreFromUrl } from '@acai/blobstore';
import { BlobStore } from '@acai/blobstore';
import { ProjectionControl, ProjectionRunner } from '@acai/eventing';
import { blobConfig, port, type ConfigSpec, type ServiceDefinition } from '@acai/platform';
import { CatalogBlobOwners1764200300000 } from './blobs/blobs.migration.js';
import { BlobsRepository, SqlBlobsRepository } from './blobs/blobs.repository.js';
import { CatalogModule } from './catalog.module.js';
import { FilesetRepository } from './filesets/fileset.repository.js';
import { ManifestsRepository } from './filesets/manifests.repository.js';
import {
  CatalogBlobRefs1764200200000,
  CatalogSearch1764200000000,
  CatalogSearchLatest1764200100000,
} from './search/search.migration.js';
import { SearchProjection } from './search/search.projection.js';
import { SearchRepository, SqlSearchRepository } from './search/search.repository.js';

export const catalogConfig = {
  ACAI_HTTP_PORT: { schema: port(8181), description: 'Port of the catalog’s ops endpoints' },
  ...blobConfig,
} satisfies ConfigSpec;

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
    return [
      { provide: FilesetRepository, useValue: new FilesetRepository(ctx.store) },
      { provide: ManifestsRepository, useValue: manifests },
      { provide: BlobStore, useValue: store },
      { provide: SearchRepository, useValue: new SqlSearchRepository(ctx.db, schema) },
      { provide: BlobsRepository, useValue: new SqlBlobsRepository(ctx.db, schema) },
      { provide: ProjectionRunner, useValue: runner },
      { provide: ProjectionControl, useValue: runner },
    ];
  },
  observers: (get) => [{ aggregate: FILESET, observe: (e) => get(FilesetRepository).observe(e) }],
  onStarted: async (app) => {
    await app.get(ProjectionRunner).start();
  },
  onClosing: async (app) => {
    await app.get(ProjectionRunner).stop();
  },
};
