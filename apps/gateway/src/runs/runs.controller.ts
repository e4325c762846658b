import { Body, Controller, Param, Query } from '@nestjs/common';
import {
  AcaiError,
  RunProblems,
  SecretProblems,
  type CommandResult,
  type ErrorDetail,
  withStepNames,
} from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { ID } from '../http/query.js';
import { bodyOf, queryOf, Route, Routes } from '../http/routes.js';
import { SecretsRepository } from '../secrets/secrets.repository.js';

@Controller()
export class RunsController {
  constructor(
    private readonly commands: CommandSender,
    private readonly secrets: SecretsRepository,
  ) {}

  /**
   * Submits a run, sent as JSON or YAML (parsed into the same value, see `http/yaml-body.ts`):
   * validated here, each refusal naming the step and the field, accepted by the scheduler, run
   * asynchronously (202).
   */
  @Route(Routes.submitRun)
  async submit(
    @Caller() caller: Principal,
    @Body() body: unknown,
  ): Promise<CommandResult<'submitRun'>> {
    let spec;
    try {
      spec = bodyOf(Routes.submitRun, body, 'run spec');
    } catch (error) {
      throw error instanceof AcaiError ? withStepNames(error, body) : error;
    }
    await this.checkSecrets(caller.project, spec.steps);
    return this.commands.send('submitRun', {
      project: caller.project,
      spec,
      submittedBy: caller.keyId,
    });
  }

  /**
   * Every secret a step names must be the project's, and set a variable its `env` does not: a 400
   * naming each step and field, before anything is queued.
   */
  private async checkSecrets(
    project: string,
    steps: readonly {
      name: string;
      env?: Record<string, string>;
      secrets?: Record<string, string>;
    }[],
  ): Promise<void> {
    const named = steps.flatMap((s) => Object.values(s.secrets ?? {}));
    if (named.length === 0) return;
    const missing = new Set(await this.secrets.missing(project, named));
    const details: ErrorDetail[] = [];
    steps.forEach((step, i) => {
      for (const [variable, secret] of Object.entries(step.secrets ?? {})) {
        if (missing.has(secret)) {
          details.push({
            path: `steps.${i}.secrets.${variable}`,
            message: `step '${step.name}' names secret '${secret}', which project '${project}' does not have`,
          });
        }
        if (step.env?.[variable] !== undefined) {
          details.push({
            path: `steps.${i}.secrets.${variable}`,
            message: `step '${step.name}' sets ${variable} both in env and from a secret`,
          });
        }
      }
    });
    if (details.length > 0) {
      throw new AcaiError(
        SecretProblems.SECRET_NAME_UNKNOWN,
        `${details[0]!.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}: create it with PUT /api/v1/projects/${project}/secrets/<name>`,
        details,
      );
    }
  }

  /**
   * What a run would do, without running it (JSON or YAML, validated as at submit): the scheduler
   * checks its DAG and the provisioner plans it within its deadline and budget, from this
   * project's runtime models only.
   */
  @Route(Routes.planRun)
  plan(@Caller() caller: Principal, @Body() body: unknown): Promise<CommandResult<'planRun'>> {
    let spec;
    try {
      spec = bodyOf(Routes.planRun, body, 'run spec');
    } catch (error) {
      throw error instanceof AcaiError ? withStepNames(error, body) : error;
    }
    return this.commands.send('planRun', { project: caller.project, spec });
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

  @Route(Routes.getRunTrials)
  trials(
    @Caller() caller: Principal,
    @Param('id') id: string,
  ): Promise<CommandResult<'getRunTrials'>> {
    assertId(id, 'run');
    return this.commands.send('getRunTrials', { project: caller.project, runId: id });
  }

  /** A page of the run's timeline: `?after=<seq>&limit=<n>`, `next` for the page after. */
  @Route(Routes.getRunTimeline)
  timeline(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Query() query: unknown,
  ): Promise<CommandResult<'getRunTimeline'>> {
    assertId(id, 'run');
    const { after, limit } = queryOf(Routes.getRunTimeline, query);
    return this.commands.send('getRunTimeline', {
      project: caller.project,
      runId: id,
      after,
      limit,
    });
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
