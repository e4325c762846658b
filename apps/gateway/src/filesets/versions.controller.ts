import { Controller, Query } from '@nestjs/common';
import { parseOrThrow, type CommandResult } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { Route, Routes } from '../http/routes.js';
import { SearchQuerySchema } from './filesets.controller.js';

/** Search every version of every file set of the project (see README: search). */
@Controller()
export class VersionsController {
  constructor(private readonly commands: CommandSender) {}

  @Route(Routes.searchVersions)
  search(
    @Caller() caller: Principal,
    @Query() query: unknown,
  ): Promise<CommandResult<'searchVersions'>> {
    return this.commands.send('searchVersions', {
      project: caller.project,
      query: parseOrThrow(SearchQuerySchema, query ?? {}, 'query'),
    });
  }
}
