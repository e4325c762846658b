import type { Readable } from 'node:stream';
import { Controller, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AcaiError, BlobProblems } from '@acai/contracts';
import { tooLarge } from '@acai/blobstore';
import { CommandSender } from '@acai/eventing';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { pathOf, Route, Routes } from '../http/routes.js';
import { GatewayBlobs } from './gateway-blobs.js';

/**
 * File uploads, streamed to the blob store without holding the file in memory. A file's bytes are
 * stored once whoever uploads them, but each upload makes them the uploading project's: a commit
 * may name only blobs its project uploaded (or already has in a version). The answer is the same
 * whether the store had the bytes or not, so an upload tells nothing about other projects.
 */
@Controller()
export class BlobsController {
  constructor(
    private readonly blobs: GatewayBlobs,
    private readonly commands: CommandSender,
  ) {}

  /** Uploads a file whose sha256 the client states; refused (nothing kept) if the bytes differ. */
  @Route(Routes.uploadBlob)
  async putKnown(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Req() request: FastifyRequest,
  ) {
    const { sha256 } = pathOf(Routes.uploadBlob, params);
    const { size } = await this.blobs.store.put(this.bodyOf(request), {
      sha256,
      maxBytes: this.blobs.maxBytes,
    });
    await this.commands.send('ownBlobs', { project: caller.project, sha256s: [sha256] });
    return { sha256, size };
  }

  /** Uploads a file and answers its sha256. */
  @Route(Routes.uploadBlobHashed)
  async put(@Caller() caller: Principal, @Req() request: FastifyRequest) {
    const { sha256, size } = await this.blobs.store.put(this.bodyOf(request), {
      maxBytes: this.blobs.maxBytes,
    });
    await this.commands.send('ownBlobs', { project: caller.project, sha256s: [sha256] });
    return { sha256, size };
  }

  /**
   * The upload's body as a stream. An upload whose `Content-Length` is over the limit is refused
   * before a byte of it is read (and the connection closed, so the rest is never read either).
   */
  private bodyOf(request: FastifyRequest): Readable {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.blobs.maxBytes) {
      throw tooLarge(this.blobs.maxBytes);
    }
    return streamOf(request);
  }
}

function streamOf(request: FastifyRequest): Readable {
  const body = request.body as Readable | undefined;
  if (body === undefined || typeof body.pipe !== 'function') {
    throw new AcaiError(
      BlobProblems.UPLOAD_BODY_MISSING,
      'Send the file as the request body (Content-Type: application/octet-stream)',
    );
  }
  return body;
}
