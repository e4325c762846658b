import { Body, Controller, Param } from '@nestjs/common';
import { AcaiError, AuthProblems, type ReuseSharingView } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import type { Principal } from '../auth/access.js';
import { Caller } from '../auth/auth.guard.js';
import { KeysRepository } from '../auth/keys.repository.js';
import { bodyOf, pathOf, Route, Routes } from '../http/routes.js';

/**
 * Whom a project shares its results with for reuse (provenance keeps it; the scheduler's reuse
 * planner asks it). Read by any key of the project; changed only by an admin key of the project
 * itself: a project's results are its own to share, not the platform admin's.
 */
@Controller()
export class ReuseSharingController {
  constructor(
    private readonly commands: CommandSender,
    private readonly keys: KeysRepository,
  ) {}

  @Route(Routes.getReuseSharing)
  async get(@Caller() caller: Principal, @Param() params: unknown): Promise<ReuseSharingView> {
    const { name: project } = pathOf(Routes.getReuseSharing, params);
    await this.keys.assertVisible(caller, project);
    return this.commands.send('getReuseSharing', { project });
  }

  @Route(Routes.setReuseSharing)
  async set(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() body: unknown,
  ): Promise<ReuseSharingView> {
    const { name: project } = pathOf(Routes.setReuseSharing, params);
    await this.keys.assertVisible(caller, project);
    if (caller.project !== project)
      throw new AcaiError(
        AuthProblems.KEY_SCOPE_REQUIRED,
        `Only an admin key of project '${project}' may share its results; this key is of '${caller.project}'`,
      );
    const { with: sharesWith } = bodyOf(Routes.setReuseSharing, body, 'reuse sharing');
    return this.commands.send('setReuseSharing', {
      project,
      with: sharesWith,
      keyId: caller.keyId,
    });
  }
}
