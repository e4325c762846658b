import { Body, Controller, Param } from '@nestjs/common';
import type { StorageBudgetView, StorageView } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import type { Principal } from '../auth/access.js';
import { Caller } from '../auth/auth.guard.js';
import { KeysRepository } from '../auth/keys.repository.js';
import { bodyOf, pathOf, Route, Routes } from '../http/routes.js';

/**
 * A project's storage: what it uses (any key of the project, or the platform admin) and its quota
 * (set by the platform admin). The catalog counts and enforces it; another project's is 404.
 */
@Controller()
export class StorageController {
  constructor(
    private readonly commands: CommandSender,
    private readonly keys: KeysRepository,
  ) {}

  @Route(Routes.getProjectUsage)
  async usage(@Caller() caller: Principal, @Param() params: unknown): Promise<StorageView> {
    const { name: project } = pathOf(Routes.getProjectUsage, params);
    await this.keys.assertVisible(caller, project);
    return this.commands.send('getStorage', { project });
  }

  @Route(Routes.getStorageBudget)
  async storageBudget(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<StorageBudgetView> {
    const { name: project } = pathOf(Routes.getStorageBudget, params);
    await this.keys.assertVisible(caller, project);
    return this.commands.send('getStorageBudget', { project });
  }

  @Route(Routes.setStorageBudget)
  async setStorageBudget(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() body: unknown,
  ): Promise<StorageBudgetView> {
    const { name: project } = pathOf(Routes.setStorageBudget, params);
    await this.keys.assertVisible(caller, project);
    const { bytes, alpha, policy } = bodyOf(Routes.setStorageBudget, body, 'storage budget');
    return this.commands.send('setStorageBudget', {
      project,
      bytes,
      ...(alpha === undefined ? {} : { alpha }),
      ...(policy === undefined ? {} : { policy }),
    });
  }

  @Route(Routes.setProjectQuota)
  async setQuota(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() body: unknown,
  ): Promise<StorageView> {
    const { name: project } = pathOf(Routes.setProjectQuota, params);
    await this.keys.assertVisible(caller, project);
    const { bytes } = bodyOf(Routes.setProjectQuota, body, 'quota');
    return this.commands.send('setStorageQuota', { project, bytes });
  }
}
