import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { AcaiError, ErrorCode, parseOrThrow, StepSpecSchema } from '@acai/contracts';
import { ServiceContext } from '@acai/platform';
import { ApiKeyGuard, Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';

/** Resources: what can be had (instance types, priced), what is running (nodes), and plans. */
@Controller('api/v1')
@UseGuards(ApiKeyGuard)
export class ProvisionController {
  constructor(private readonly ctx: ServiceContext) {}

  /** Every configuration the enabled providers offer, priced, and the EC2 catalogue behind them. */
  @Get('instance-types')
  instanceTypes(): Promise<unknown> {
    return this.ctx.commands.send('listOffers', {});
  }

  /** Nodes running executors: local processes, EC2 instances (booting ones too), simulated nodes. */
  @Get('nodes')
  nodes(): Promise<unknown> {
    return this.ctx.commands.send('listNodes', {});
  }

  /**
   * What the auto-provisioner would choose for a step, and why, without running it: the step as
   * in a run spec (command, env, inputs, resources, provision).
   */
  @Post('provision/plan')
  @HttpCode(200)
  plan(@Caller() caller: Principal, @Body() body: unknown): Promise<unknown> {
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new AcaiError(
        ErrorCode.ValidationFailed,
        'Send a step as a JSON object: { "name": ..., "command": [...], "provision": { "maxSeconds": ... } }',
      );
    }
    const step = parseOrThrow(StepSpecSchema, body, 'step');
    return this.ctx.commands.send('planProvisioning', { project: caller.project, step });
  }
}
