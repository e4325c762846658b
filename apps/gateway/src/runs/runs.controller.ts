import { Body, Controller, Param, Query } from '@nestjs/common';
import { AcaiError, RunProblems, type CommandResult } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { ID } from '../http/query.js';
import { bodyOf, queryOf, Route, Routes } from '../http/routes.js';

@Controller()
export class RunsController {
  constructor(private readonly commands: CommandSender) {}

  /** Submits a run: validated here, accepted by the scheduler, run asynchronously (202). */
  @Route(Routes.submitRun)
  submit(@Caller() caller: Principal, @Body() body: unknown): Promise<CommandResult<'submitRun'>> {
    const spec = bodyOf(Routes.submitRun, body, 'run spec');
    return this.commands.send('submitRun', {
      project: caller.project,
      spec,
      submittedBy: caller.keyId,
    });
  }

  @Route(Routes.listRuns)
  list(@Caller() caller: Principal, @Query() query: unknown): Promise<CommandResult<'listRuns'>> {
    const { limit, cursor } = queryOf(Routes.listRuns, query);
    return this.commands.send('listRuns', {
      project: caller.project,
      limit,
      cursor: cursor ?? null,
    });
  }

  @Route(Routes.getRun)
  get(@Caller() caller: Principal, @Param('id') id: string): Promise<CommandResult<'getRun'>> {
    assertId(id, 'run');
    return this.commands.send('getRun', { project: caller.project, runId: id });
  }

  @Route(Routes.cancelRun)
  async cancel(
    @Caller() caller: Principal,
    @Param('id') id: string,
  ): Promise<CommandResult<'cancelRun'>> {
    assertId(id, 'run');
    // Confirms the run is this project's (404 otherwise) before asking the scheduler.
    await this.commands.send('getRun', { project: caller.project, runId: id });
    return this.commands.send('cancelRun', {
      project: caller.project,
      runId: id,
      reason: `cancelled by ${caller.keyId}`,
    });
  }
}

/** A malformed id is simply not found: nothing of it reaches the bus. */
export function assertId(id: string, what: 'run' | 'job'): void {
  if (ID.test(id)) return;
  const problem = what === 'run' ? RunProblems.RUN_NOT_FOUND : RunProblems.JOB_NOT_FOUND;
  throw new AcaiError(problem, `No ${what} '${id}' in this project`);
}
