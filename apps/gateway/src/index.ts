import type { ServiceDefinition } from '@acai/platform';
import { ApiKeyEntity, ProjectEntity } from './auth/auth.entities.js';
import { GatewayAuth1764115300000 } from './auth/auth.migration.js';
import { bootstrapDefaultProject } from './auth/bootstrap.js';
import { KeysRepository } from './auth/keys.repository.js';
import { gatewayConfig } from './config.js';
import { GatewayModule } from './gateway.module.js';

export const gatewayService: ServiceDefinition<typeof gatewayConfig> = {
  name: 'gateway',
  config: gatewayConfig,
  port: { variable: 'ACAI_PORT' },
  module: GatewayModule,
  entities: [ProjectEntity, ApiKeyEntity],
  migrations: [GatewayAuth1764115300000],
  bodyLimit: (config) => config.ACAI_MAX_BODY_BYTES,
  providers: async (ctx) => {
    const keys = new KeysRepository(ctx.db);
    // Before the gateway listens (and so before /readyz answers), the default key exists.
    if (ctx.config.ACAI_BOOTSTRAP_KEY_FILE !== undefined) {
      await bootstrapDefaultProject(keys, ctx.config.ACAI_BOOTSTRAP_KEY_FILE, ctx.logger);
    }
    return [{ provide: KeysRepository, useValue: keys }];
  },
};

export { KeysRepository };
