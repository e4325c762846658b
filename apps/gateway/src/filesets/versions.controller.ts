import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { parseOrThrow, type Page } from '@acai/contracts';
import { ServiceContext } from '@acai/platform';
import { ApiKeyGuard, Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { SearchQuerySchema } from './filesets.controller.js';

/** Search every version of every file set of the project (see README: search). */
@Controller('api/v1/versions')
@UseGuards(ApiKeyGuard)
export class VersionsController {
  constructor(private readonly ctx: ServiceContext) {}

  @Get()
  search(@Caller() caller: Principal, @Query() query: unknown): Promise<Page<unknown>> {
    return this.ctx.commands.send('searchVersions', {
      project: caller.project,
      query: parseOrThrow(SearchQuerySchema, query ?? {}, 'query'),
    });
  }
}
