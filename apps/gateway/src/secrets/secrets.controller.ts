import { Body, Controller, Param } from '@nestjs/common';
import type { SecretView } from '@acai/contracts';
import type { Principal } from '../auth/access.js';
import { Caller } from '../auth/auth.guard.js';
import { KeysRepository } from '../auth/keys.repository.js';
import { bodyOf, pathOf, Route, Routes } from '../http/routes.js';
import { SecretsRepository } from './secrets.repository.js';

/**
 * A project's secrets: put (create or replace), list (names only), delete. The guard has checked
 * the key's scope; here, that the project in the path is the caller's own (another project's is
 * 404, as if it did not exist) or that the caller is the platform admin.
 */
@Controller()
export class SecretsController {
  constructor(
    private readonly secrets: SecretsRepository,
    private readonly keys: KeysRepository,
  ) {}

  @Route(Routes.putSecret)
  async put(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() body: unknown,
  ): Promise<SecretView> {
    const { name: project, secret } = pathOf(Routes.putSecret, params);
    await this.keys.assertVisible(caller, project);
    const { value } = bodyOf(Routes.putSecret, body, 'secret');
    return this.secrets.put(project, secret, value);
  }

  @Route(Routes.listSecrets)
  async list(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<{ items: SecretView[] }> {
    const { name: project } = pathOf(Routes.listSecrets, params);
    await this.keys.assertVisible(caller, project);
    return { items: await this.secrets.list(project) };
  }

  @Route(Routes.deleteSecret)
  async remove(@Caller() caller: Principal, @Param() params: unknown): Promise<SecretView> {
    const { name: project, secret } = pathOf(Routes.deleteSecret, params);
    await this.keys.assertVisible(caller, project);
    return this.secrets.remove(project, secret);
  }
}
