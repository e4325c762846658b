import { Body, Controller } from '@nestjs/common';
import type { CommandResult } from '@acai/contracts';
import { CommandSender } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { bodyOf, Route, Routes } from '../http/routes.js';

/** Resources: what can be had (instance types, priced), what is running (nodes), and plans. */
@Controller()
export class ProvisionController {
  constructor(private readonly commands: CommandSender) {}

  /** Every configuration the enabled providers offer, priced, and the EC2 catalogue behind them. */
  @Route(Routes.listOffers)
  instanceTypes(): Promise<CommandResult<'listOffers'>> {
    return this.commands.send('listOffers', {});
  }

  /**
   * Nodes running executors: local processes, EC2 instances (booting ones too), simulated nodes.
   * A project's key sees the jobs of its own project on them, the platform admin key every job.
   */
  @Route(Routes.listNodes)
  nodes(@Caller() caller: Principal): Promise<CommandResult<'listNodes'>> {
    return this.commands.send('listNodes', caller.platformAdmin ? {} : { project: caller.project });
  }

  /**
   * What the auto-provisioner would choose for a step, and why, without running it: the step as
   * in a run spec (command, env, inputs, resources, provision).
   */
  @Route(Routes.planProvisioning)
  plan(
    @Caller() caller: Principal,
    @Body() body: unknown,
  ): Promise<CommandResult<'planProvisioning'>> {
    const step = bodyOf(Routes.planProvisioning, body, 'step');
    return this.commands.send('planProvisioning', { project: caller.project, step });
  }
}
