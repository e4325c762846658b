import { Controller, Inject } from '@nestjs/common';
import type { CommandPayload, CommandResult } from '@acai/contracts';
import { LOGGER, OnCommand, type EventingLogger } from '@acai/eventing';
import { SecretsRepository } from './secrets.repository.js';

/**
 * Answers an executor starting a job that names secrets (`resolveSecrets`): only executors may
 * send it (the bus's permissions, docs/bus-permissions.md). The values are logged never; the
 * names and project are.
 */
@Controller()
export class SecretsHandler {
  constructor(
    private readonly secrets: SecretsRepository,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  @OnCommand('resolveSecrets')
  async resolve(
    request: CommandPayload<'resolveSecrets'>,
  ): Promise<CommandResult<'resolveSecrets'>> {
    const values = await this.secrets.resolve(request.project, request.names);
    this.logger.info(
      { project: request.project, secrets: request.names },
      'secrets handed to an executor for a job',
    );
    return { values };
  }
}
