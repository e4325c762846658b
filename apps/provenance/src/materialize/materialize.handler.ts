import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { MaterializationPolicy, StorageBudgetView } from '@acai/contracts';
import { OnCommand } from '@acai/eventing';
import { Materializer } from './materializer.js';

/** A project's storage budget for derived artifacts, kept by the materializer. */
@Controller()
export class MaterializeHandler {
  constructor(private readonly materializer: Materializer) {}

  @OnCommand('getStorageBudget')
  getStorageBudget(@Payload() req: { project: string }): Promise<StorageBudgetView> {
    return this.materializer.view(req.project);
  }

  /** Sets it and weighs the project at once: the answer says where it stands after. */
  @OnCommand('setStorageBudget')
  setStorageBudget(
    @Payload()
    req: {
      project: string;
      bytes: number | null;
      alpha?: number;
      policy?: MaterializationPolicy;
    },
  ): Promise<StorageBudgetView> {
    return this.materializer.setBudget(req.project, req.bytes, req.alpha, req.policy);
  }
}
