import { port, type ConfigSpec, type ServiceDefinition } from '@acai/platform';
import { CatalogModule } from './catalog.module.js';

export const catalogConfig = {
  ACAI_HTTP_PORT: { schema: port(8181), description: 'Port of the catalog’s ops endpoints' },
} satisfies ConfigSpec;

export const catalogService: ServiceDefinition<typeof catalogConfig> = {
  name: 'catalog',
  config: catalogConfig,
  port: { variable: 'ACAI_HTTP_PORT' },
  module: CatalogModule,
};
