import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { CommandPayload, CommandResult } from '@acai/contracts';
import { OnCommand } from '@acai/eventing';
import { BlobsRepository } from './blobs.repository.js';

/**
 * Blob ownership. Sent by those who hold the bytes, never by users directly: the gateway once an
 * upload is stored (the uploader proved it has the bytes, even when the store had them already), the
 * executor once it stored a job's outputs, before it commits them.
 */
@Controller()
export class BlobsHandler {
  constructor(private readonly blobs: BlobsRepository) {}

  @OnCommand('ownBlobs')
  async own(@Payload() req: CommandPayload<'ownBlobs'>): Promise<CommandResult<'ownBlobs'>> {
    await this.blobs.own(req.project, req.sha256s);
    return { ok: true };
  }
}
