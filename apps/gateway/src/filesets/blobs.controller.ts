import type { Readable } from 'node:stream';
import { Controller, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AcaiError, BlobProblems } from '@acai/contracts';
import { tooLarge } from '@acai/blobstore';
import { pathOf, Route, Routes } from '../http/routes.js';
import { GatewayBlobs } from './gateway-blobs.js';

/**
 * File uploads, streamed to the blob store without holding the file in memory. A file's bytes are
 * stored once whoever uploads them; they belong to a file set only once a version lists them.
 */
@Controller()
export class BlobsController {
  constructor(private readonly blobs: GatewayBlobs) {}

  /** Uploads a file whose sha256 the client states; refused (nothing kept) if the bytes differ. */
  @Route(Routes.uploadBlob)
  async putKnown(@Param() params: unknown, @Req() request: FastifyRequest) {
    const { sha256 } = pathOf(Routes.uploadBlob, params);
    const { size } = await this.blobs.store.put(this.bodyOf(request), {
      sha256,
      maxBytes: this.blobs.maxBytes,
    });
    return { sha256, size };
  }

  /** Uploads a file and answers its sha256. */
  @Route(Routes.uploadBlobHashed)
  async put(@Req() request: FastifyRequest) {
    const { sha256, size } = await this.blobs.store.put(this.bodyOf(request), {
      maxBytes: this.blobs.maxBytes,
    });
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
