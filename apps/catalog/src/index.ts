import path from 'node:path';
import { FILESET } from '@acai/contracts';
import { blobStoreFromUrl } from '@acai/blobstore';
import { ProjectionRunner } from '@acai/eventing';
import { filesetDecider } from '@acai/filesets';
import { blobConfig, port, type ConfigSpec, type ServiceDefinition } from '@acai/platform';
import { CatalogModule } from './catalog.module.js';
import { Blobs, FilesetRepository } from './filesets/filesets.handler.js';
import {
  FilesetsReadModel,
  filesetsProjection,
  type FilesetSummary,
} from './filesets/filesets.read-model.js';
import { ManifestsRepository } from './filesets/manifests.repository.js';

export const catalogConfig = {
  ACAI_HTTP_PORT: { schema: port(8181), description: 'Port of the catalog’s ops endpoints' },
  ...blobConfig,
} satisfies ConfigSpec;

class CatalogProjections {
  constructor(readonly runner: ProjectionRunner<FilesetSummary>) {}
}

export const catalogService: ServiceDefinition<typeof catalogConfig> = {
  name: 'catalog',
  config: catalogConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: CatalogModule,
  providers: (ctx) => {
    const store = blobStoreFromUrl(
      ctx.config.ACAI_BLOB_STORE ?? path.resolve(ctx.config.ACAI_HOME, 'blobs'),
    );
    const runner = new ProjectionRunner(ctx.bus, ctx.db, [filesetsProjection], ctx.deadLetters, {
      logger: ctx.logger,
    });
    return [
      {
        provide: FilesetRepository,
        useValue: new FilesetRepository(ctx.store, FILESET, filesetDecider),
      },
      { provide: ManifestsRepository, useValue: new ManifestsRepository(store) },
      { provide: Blobs, useValue: new Blobs(store) },
      { provide: FilesetsReadModel, useValue: new FilesetsReadModel(ctx.db) },
      { provide: CatalogProjections, useValue: new CatalogProjections(runner) },
    ];
  },
  observers: (get) => [{ aggregate: FILESET, observe: (e) => get(FilesetRepository).observe(e) }],
  onStarted: async (app) => {
    await app.get(CatalogProjections).runner.start();
  },
  onClosing: async (app) => {
    await app.get(CatalogProjections).runner.stop();
  },
};
