import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { CommandPayload, ReuseSharingView } from '@acai/contracts';
import { OnCommand } from '@acai/eventing';
import { ReuseSharing } from './sharing.repository.js';

/** Whom a project shares its results with for reuse (the gateway checks the caller's key). */
@Controller()
export class SharingHandler {
  constructor(private readonly sharing: ReuseSharing) {}

  @OnCommand('getReuseSharing')
  getReuseSharing(@Payload() req: CommandPayload<'getReuseSharing'>): Promise<ReuseSharingView> {
    return this.sharing.view(req.project);
  }

  @OnCommand('setReuseSharing')
  setReuseSharing(@Payload() req: CommandPayload<'setReuseSharing'>): Promise<ReuseSharingView> {
    return this.sharing.set(req.project, req.with, req.keyId);
  }
}
