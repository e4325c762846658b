import { Body, Controller, Param, Post, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { parseOrThrow } from '@acai/contracts';
import { ServiceContext } from '@acai/platform';
import { AdminOnly, ApiKeyGuard } from '../auth/auth.guard.js';
import { KeysRepository } from '../auth/keys.repository.js';

const CreateProjectSchema = z.strictObject({ name: z.string() });

/** Operations across projects; they need an admin key (the one `npm run up` creates is one). */
@Controller('api/v1')
@UseGuards(ApiKeyGuard)
@AdminOnly()
export class AdminController {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly keys: KeysRepository,
  ) {}

  /** Creates a project and returns its first API key. The key is shown once: keep it. */
  @Post('projects')
  createProject(@Body() body: unknown) {
    const { name } = parseOrThrow(CreateProjectSchema, body ?? {}, 'project');
    return this.keys.createProject(name, false);
  }

  /** Drops a read model and rebuilds it from the whole event log. */
  @Post('projections/:name/replay')
  replay(@Param('name') name: string) {
    return this.ctx.commands.send('replayProjection', { projection: name });
  }
}
