import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import {
  AcaiError,
  ErrorCode,
  parseOrThrow,
  RunSpecSchema,
  type Page,
  type RunView,
  type SubmitRunResponse,
} from '@acai/contracts';
import { ServiceContext } from '@acai/platform';
import { ApiKeyGuard, Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { ID, parseListQuery } from '../http/query.js';

@Controller('api/v1/runs')
@UseGuards(ApiKeyGuard)
export class RunsController {
  constructor(private readonly ctx: ServiceContext) {}

  /** Submits a run: validated here, accepted by the scheduler, run asynchronously (202). */
  @Post()
  @HttpCode(202)
  async submit(@Caller() caller: Principal, @Body() body: unknown): Promise<SubmitRunResponse> {
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new AcaiError(
        ErrorCode.ValidationFailed,
        'Send a run spec as a JSON object: { "name": ..., "steps": [...] }',
      );
    }
    const spec = parseOrThrow(RunSpecSchema, body, 'run spec');
    return this.ctx.commands.send('submitRun', {
      project: caller.project,
      spec,
      submittedBy: caller.keyId,
    });
  }

  @Get()
  list(@Caller() caller: Principal, @Query() query: unknown): Promise<Page<RunView>> {
    return this.ctx.commands.send('listRuns', {
      project: caller.project,
      ...parseListQuery(query),
    });
  }

  @Get(':id')
  get(@Caller() caller: Principal, @Param('id') id: string): Promise<RunView> {
    assertId(id, 'run');
    return this.ctx.commands.send('getRun', { project: caller.project, runId: id });
  }

  @Post(':id/cancel')
  @HttpCode(202)
  async cancel(@Caller() caller: Principal, @Param('id') id: string): Promise<{ id: string }> {
    assertId(id, 'run');
    // Confirms the run is this project's (404 otherwise) before asking the scheduler.
    await this.ctx.commands.send('getRun', { project: caller.project, runId: id });
    return this.ctx.commands.send('cancelRun', {
      project: caller.project,
      runId: id,
      reason: `cancelled by ${caller.keyId}`,
    });
  }
}

export function assertId(id: string, what: string): void {
  if (!ID.test(id)) throw new AcaiError(ErrorCode.NotFound, `No ${what} '${id}' in this project`);
}
