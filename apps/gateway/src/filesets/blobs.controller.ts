import type { Readable } from 'node:stream';
import { Controller, HttpCode, Param, Post, Put, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AcaiError, ErrorCode } from '@acai/contracts';
import { assertSha256 } from '@acai/blobstore';
import { ApiKeyGuard } from '../auth/auth.guard.js';
import { GatewayBlobs } from './gateway-blobs.js';

/**
 * File uploads, streamed to the blob store without holding the file in memory. A file's bytes are
 * stored once whoever uploads them; they belong to a file set only once a version lists them.
 */
@Controller('api/v1/blobs')
@UseGuards(ApiKeyGuard)
export class BlobsController {
  constructor(private readonly blobs: GatewayBlobs) {}

  /** Uploads a file whose sha256 the client states; refused (nothing kept) if the bytes differ. */
  @Put(':sha256')
  @HttpCode(201)
  async putKnown(@Param('sha256') sha256: string, @Req() request: FastifyRequest) {
    assertSha256(sha256);
    const { size } = await this.blobs.store.put(bodyOf(request), {
      sha256,
      maxBytes: this.blobs.maxBytes,
    });
    return { sha256, size };
  }

  /** Uploads a file and answers its sha256. */
  @Post()
  @HttpCode(201)
  async put(@Req() request: FastifyRequest) {
    const { sha256, size } = await this.blobs.store.put(bodyOf(request), {
      maxBytes: this.blobs.maxBytes,
    });
    return { sha256, size };
  }
}

function bodyOf(request: FastifyRequest): Readable {
  const body = request.body as Readable | undefined;
  if (body === undefined || typeof body.pipe !== 'function') {
    throw new AcaiError(
      ErrorCode.ValidationFailed,
      'Send the file as the request body (Content-Type: application/octet-stream)',
    );
  }
  return body;
}
