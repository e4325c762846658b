import type { Readable } from 'node:stream';
import { Controller, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AcaiError, BlobProblems, isProblem, type CommandResult } from '@acai/contracts';
import { overQuotaCutOff, tooLarge } from '@acai/blobstore';
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
 *
 * Each upload counts against its project's storage quota, which the catalog keeps: asked before a
 * byte is read (the declared size, and for `PUT /blobs/{sha256}` whether the project has those
 * bytes already), and enforced when the upload is recorded as the project's (`ownBlobs`, which
 * refuses and deletes what would pass it, however many uploads race).
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
    return this.receive(caller.project, this.bodyOf(request), declaredSize(request), sha256);
  }

  /** Uploads a file and answers its sha256. */
  @Route(Routes.uploadBlobHashed)
  async put(@Caller() caller: Principal, @Req() request: FastifyRequest) {
    return this.receive(caller.project, this.bodyOf(request), declaredSize(request));
  }

  /**
   * Stores an upload (REST or gRPC) as the project's: refused before a byte is read if its
   * declared size is over the limit or the quota, cut off once it passes them, and refused with
   * nothing kept if `sha256` is stated and the bytes differ.
   */
  async receive(
    project: string,
    body: Readable,
    declared: number | undefined,
    sha256?: string,
  ): Promise<{ sha256: string; size: number }> {
    if (declared !== undefined && declared > this.blobs.maxBytes) {
      throw tooLarge(this.blobs.maxBytes);
    }
    const quota = await this.checkQuota(project, declared, sha256);
    const stored = await this.store(body, quota, sha256);
    await this.commands.send('ownBlobs', {
      project,
      sha256s: [stored.sha256],
      sizes: [stored.size],
    });
    return { sha256: stored.sha256, size: stored.size };
  }

  /**
   * The upload's body as a stream. An upload whose `Content-Length` is over the limit is refused
   * (by `receive`) before a byte of it is read (and the connection closed, so the rest is never
   * read either).
   */
  private bodyOf(request: FastifyRequest): Readable {
    return streamOf(request);
  }

  /**
   * Refuses, before a byte of it is read, an upload whose declared size alone is over the
   * project's quota (413) or would take it over (507); answers where to cut off one that does not
   * say its size.
   */
  private async checkQuota(
    project: string,
    declared: number | undefined,
    sha256?: string,
  ): Promise<CommandResult<'checkUpload'> & { project: string }> {
    const answer = await this.commands.send('checkUpload', {
      project,
      ...(sha256 === undefined ? {} : { sha256 }),
      ...(declared === undefined ? {} : { size: declared }),
    });
    return { ...answer, project };
  }

  /**
   * Streams the body into the store, up to the upload limit or the project's whole quota, if that
   * is less: an upload without a `Content-Length` is cut off once it passes its quota.
   */
  private async store(
    body: Readable,
    quota: CommandResult<'checkUpload'> & { project: string },
    sha256?: string,
  ) {
    const stopAt = quota.stopAtBytes ?? Infinity;
    const maxBytes = Math.min(this.blobs.maxBytes, stopAt);
    try {
      return await this.blobs.store.put(body, {
        ...(sha256 === undefined ? {} : { sha256 }),
        maxBytes,
      });
    } catch (error) {
      if (
        quota.quotaBytes !== null &&
        stopAt < this.blobs.maxBytes &&
        isProblem(error, BlobProblems.UPLOAD_TOO_LARGE)
      ) {
        throw overQuotaCutOff({ ...quota, quotaBytes: quota.quotaBytes });
      }
      throw error;
    }
  }
}

/** The upload's `Content-Length`, if it has one. */
function declaredSize(request: FastifyRequest): number | undefined {
  const declared = Number(request.headers['content-length']);
  return Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
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
