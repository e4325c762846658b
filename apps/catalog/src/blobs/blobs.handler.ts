import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  BlobProblems,
  isProblem,
  type CommandPayload,
  type CommandResult,
  type StorageView,
} from '@acai/contracts';
import { availableBytes, BlobStore, quotaOf, quotaRefusal, type QuotaState } from '@acai/blobstore';
import { describeError, LOGGER, OnCommand, type EventingLogger } from '@acai/eventing';
import { BlobsRepository, StorageRepository, type ProjectStorage } from './blobs.repository.js';

/** The platform's default storage quota of a project (`ACAI_PROJECT_QUOTA_BYTES`; 0: none). */
export class DefaultQuota {
  constructor(readonly bytes: number) {}
}

/**
 * Blob ownership and each project's storage. `ownBlobs` is sent by those who hold the bytes, never
 * by users directly: the gateway once an upload is stored (the uploader proved it has the bytes,
 * even when the store had them already), the executor once it stored a job's outputs, before it
 * commits them. Each is refused past the project's storage quota, and then the bytes are not kept
 * (unless another project has them, or a version uses them).
 */
@Controller()
export class BlobsHandler {
  constructor(
    private readonly blobs: BlobsRepository,
    private readonly storage: StorageRepository,
    private readonly store: BlobStore,
    private readonly defaultQuota: DefaultQuota,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  @OnCommand('ownBlobs')
  async own(@Payload() req: CommandPayload<'ownBlobs'>): Promise<CommandResult<'ownBlobs'>> {
    const blobs = req.sha256s.map((sha256, i) => ({ sha256, size: req.sizes?.[i] ?? null }));
    try {
      await this.blobs.own(req.project, blobs, (storage, adding) => {
        const refused = quotaRefusal(this.quotaState(req.project, storage), adding);
        if (refused !== undefined) throw refused;
      });
    } catch (error) {
      if (isProblem(error, BlobProblems.UPLOAD_OVER_QUOTA, BlobProblems.STORAGE_QUOTA_EXCEEDED)) {
        await this.discard(req.project, req.sha256s);
      }
      throw error;
    }
    return { ok: true };
  }

  /**
   * Asked before an upload is read: refused at once if its declared size is over the quota (413)
   * or would take the project over it (507); bytes the project owns already count nothing.
   */
  @OnCommand('checkUpload')
  async checkUpload(
    @Payload() req: CommandPayload<'checkUpload'>,
  ): Promise<CommandResult<'checkUpload'>> {
    const state = this.quotaState(req.project, await this.storage.storage(req.project));
    const owned =
      state.quotaBytes !== null &&
      req.sha256 !== undefined &&
      (await this.storage.owns(req.project, req.sha256));
    if (!owned && req.size !== undefined) {
      const refused = quotaRefusal(state, [req.size]);
      if (refused !== undefined) throw refused;
    }
    return {
      usedBytes: state.usedBytes,
      quotaBytes: state.quotaBytes,
      stopAtBytes: owned ? null : state.quotaBytes,
    };
  }

  @OnCommand('getStorage')
  async getStorage(
    @Payload() req: CommandPayload<'getStorage'>,
  ): Promise<CommandResult<'getStorage'>> {
    return this.view(req.project, await this.storage.storage(req.project));
  }

  @OnCommand('setStorageQuota')
  async setQuota(
    @Payload() req: CommandPayload<'setStorageQuota'>,
  ): Promise<CommandResult<'setStorageQuota'>> {
    const storage = await this.storage.setQuota(req.project, req.bytes);
    this.logger.info(
      { project: req.project, quotaBytes: req.bytes, usedBytes: storage.usedBytes },
      'storage quota set',
    );
    return this.view(req.project, storage);
  }

  private quotaState(project: string, storage: ProjectStorage): QuotaState {
    return {
      project,
      usedBytes: storage.usedBytes,
      quotaBytes: quotaOf(storage.quotaBytes, this.defaultQuota.bytes),
    };
  }

  private view(project: string, storage: ProjectStorage): StorageView {
    const state = this.quotaState(project, storage);
    return {
      project,
      usedBytes: storage.usedBytes,
      blobs: storage.blobs,
      quotaBytes: state.quotaBytes,
      quotaSource: storage.quotaBytes === null ? 'default' : 'project',
      availableBytes: availableBytes(state),
    };
  }

  /**
   * The bytes of a refused upload: deleted unless another project owns them or something uses
   * them. A failure only leaves bytes nobody owns in the store, so it is logged, not answered.
   */
  private async discard(project: string, blobs: readonly string[]): Promise<void> {
    try {
      await this.storage.collectUnowned(blobs, (sha) => this.store.delete(sha));
    } catch (error) {
      this.logger.warn(
        { project, blobs: blobs.length, err: describeError(error) },
        'could not delete the bytes of an upload refused for its quota',
      );
    }
  }
}
