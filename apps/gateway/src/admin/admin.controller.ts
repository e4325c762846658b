import { Body, Controller, Param, UseGuards } from '@nestjs/common';
import type { CommandResult } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { ApiKeyGuard } from '../auth/auth.guard.js';
import { KeysRepository } from '../auth/keys.repository.js';
import { bodyOf, pathOf, Route, Routes } from '../http/routes.js';

/** Operations across projects; they need an admin key (the one `npm run up` creates is one). */
@Controller()
@UseGuards(ApiKeyGuard)
export class AdminController {
  constructor(
    private readonly commands: CommandSender,
    private readonly keys: KeysRepository,
  ) {}

  /** Creates a project and returns its first API key. The key is shown once: keep it. */
  @Route(Routes.createProject)
  createProject(@Body() body: unknown) {
    const { name } = bodyOf(Routes.createProject, body, 'project');
    return this.keys.createProject(name, false);
  }

  /** Drops a read model and rebuilds it from the whole event log. */
  @Route(Routes.replayProjection)
  replay(@Param() params: unknown): Promise<CommandResult<'replayProjection'>> {
    const { name } = pathOf(Routes.replayProjection, params);
    return this.commands.send('replayProjection', { projection: name });
  }
}
