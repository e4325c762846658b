import { Body, Controller, Param } from '@nestjs/common';
import type { CommandResult } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { KeysRepository } from '../auth/keys.repository.js';
import { ProjectLogStreams } from '../jobs/log-streams.js';
import { bodyOf, pathOf, Route, Routes } from '../http/routes.js';

/** Operations across projects; they need the platform admin key (the one `npm run up` creates). */
@Controller()
export class AdminController {
  constructor(
    private readonly commands: CommandSender,
    private readonly keys: KeysRepository,
    private readonly logStreams: ProjectLogStreams,
  ) {}

  /** Creates a project and returns its first API key, its admin. The key is shown once: keep it. */
  @Route(Routes.createProject)
  async createProject(@Body() body: unknown) {
    const { name } = bodyOf(Routes.createProject, body, 'project');
    const created = await this.keys.createProject(name, false);
    // Its logs stream; should the bus refuse it now, the first node to publish output asks again
    // (the key is answered whatever happens: it is shown only once).
    await this.logStreams.ensureEvery([name]);
    return { project: created.project, keyId: created.id, scope: created.scope, key: created.key };
  }

  /** Starts rebuilding a read model from the whole event log, beside the live one. */
  @Route(Routes.replayProjection)
  replay(@Param() params: unknown): Promise<CommandResult<'replayProjection'>> {
    const { name } = pathOf(Routes.replayProjection, params);
    return this.commands.send('replayProjection', { projection: name });
  }

  /** How far a read model has applied the log, and its latest replay. */
  @Route(Routes.getProjection)
  projection(@Param() params: unknown): Promise<CommandResult<'getProjection'>> {
    const { name } = pathOf(Routes.getProjection, params);
    return this.commands.send('getProjection', { projection: name });
  }
}
