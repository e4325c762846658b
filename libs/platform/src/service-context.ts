import type { DataSource } from 'typeorm';
import type { Bus, CommandClient, EventStore, PostgresDeadLetters } from '@acai/eventing';
import type { CommonConfig } from './config.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';

/**
 * Everything a service's modules get from the platform, injected by class: the bus, the database,
 * the event store, the command client, the logger and metrics, and its validated config.
 */
export class ServiceContext<C extends CommonConfig = CommonConfig> {
  constructor(
    readonly name: string,
    readonly config: C,
    readonly logger: Logger,
    readonly bus: Bus,
    readonly db: DataSource,
    readonly store: EventStore,
    readonly commands: CommandClient,
    readonly deadLetters: PostgresDeadLetters,
    readonly metrics: ServiceMetrics,
  ) {}
}
