import { Body, Controller, Param } from '@nestjs/common';
import { AcaiError, CommonProblems, type CreatedKey, type KeyView } from '@acai/contracts';
import { bodyOf, pathOf, Route, Routes } from '../http/routes.js';
import type { Principal } from './access.js';
import { Caller } from './auth.guard.js';
import { KeysRepository } from './keys.repository.js';
import { KeyRevocations } from './revocations.js';

/**
 * A project's API keys: create (with a scope), list, revoke. The guard has checked the key is an
 * admin of its project; here, that the project in the path is the caller's own (another project's
 * is 404, as if it did not exist) or that the caller is the platform admin.
 */
@Controller()
export class KeysController {
  constructor(
    private readonly keys: KeysRepository,
    private readonly revocations: KeyRevocations,
  ) {}

  @Route(Routes.createKey)
  async create(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() body: unknown,
  ): Promise<CreatedKey> {
    const { name: project } = pathOf(Routes.createKey, params);
    await this.keys.assertVisible(caller, project);
    const { scope, name } = bodyOf(Routes.createKey, body, 'key');
    return this.keys.createKey(project, scope, name ?? null);
  }

  @Route(Routes.listKeys)
  async list(@Caller() caller: Principal, @Param() params: unknown): Promise<{ items: KeyView[] }> {
    const { name: project } = pathOf(Routes.listKeys, params);
    await this.keys.assertVisible(caller, project);
    return { items: await this.keys.listKeys(project) };
  }

  /** Revokes the key here, then tells every replica before answering. */
  @Route(Routes.revokeKey)
  async revoke(@Caller() caller: Principal, @Param() params: unknown): Promise<KeyView> {
    const { name: project, id } = pathOf(Routes.revokeKey, params);
    await this.keys.assertVisible(caller, project);
    const revoked = await this.keys.revokeKey(project, id);
    try {
      await this.revocations.announce({ project, keyId: id });
    } catch (error) {
      // Revoked in the database, but the other replicas may still hold it in their caches.
      throw new AcaiError(
        CommonProblems.SERVICE_UNAVAILABLE,
        `Key '${id}' is revoked, but the other gateway replicas could not be told now (the bus does not answer); they refuse it within 60 s. Revoke it again to tell them at once`,
        undefined,
        { cause: error },
      );
    }
    return revoked;
  }
}
