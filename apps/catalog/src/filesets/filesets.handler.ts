import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { text } from 'node:stream/consumers';
import {
  AcaiError,
  CommitRequestSchema,
  FilesetProblems,
  isProblem,
  parseOrThrow,
  type CommandName,
  type CommandPayload,
  type CommandResult,
} from '@acai/contracts';
import { BlobStore, quotaOf, quotaRefusal } from '@acai/blobstore';
import { DefaultQuota } from '../blobs/blobs.handler.js';
import {
  describeError,
  LOGGER,
  OnCommand,
  ProjectionControl,
  type EventingLogger,
} from '@acai/eventing';
import {
  applyChanges,
  committedAs,
  diffManifests,
  filesetDecider,
  manifestBytes,
  mediaTypeOf,
  parseSearch,
  resolveVersion,
  type FilesetCommand,
  type FilesetState,
  type Manifest,
} from '@acai/filesets';
import { FilesetRepository } from './fileset.repository.js';
import { ManifestsRepository } from './manifests.repository.js';
import { BlobsRepository, type BlobCheck, type VersionBlobs } from '../blobs/blobs.repository.js';
import { SearchRepository } from '../search/search.repository.js';
import { filesetView, versionView } from './fileset-views.js';

type Request<K extends CommandName> = CommandPayload<K>;
type Result<K extends CommandName> = Promise<CommandResult<K>>;
type FilePut = CommandPayload<'commitVersion'>['request']['put'][number];

/**
 * File sets and their versions. Each change is load → decide → append on the file set's aggregate
 * (its name is its id); the bytes are blobs, and each version's manifest is a blob as well.
 */
@Controller()
export class FilesetsHandler {
  constructor(
    private readonly filesets: FilesetRepository,
    private readonly manifests: ManifestsRepository,
    private readonly blobs: BlobStore,
    private readonly search: SearchRepository,
    /** Which project has which blob; what commits hold and evictions collect. */
    private readonly blobOwners: BlobsRepository,
    /** The search tables and blob references, a projection of the file set events. */
    private readonly projections: ProjectionControl,
    @Inject(LOGGER) private readonly logger: EventingLogger,
    /** The storage quota of a project that sets none: what a copied version is counted against. */
    private readonly defaultQuota: DefaultQuota,
  ) {}

  @OnCommand('createFileset')
  async create(@Payload() req: Request<'createFileset'>): Result<'createFileset'> {
    const name = req.request.name;
    const { state } = await this.execute(req.project, name, {
      kind: 'create',
      name,
      metadata: req.request.metadata,
      labels: req.request.labels,
      createdBy: req.createdBy,
    });
    return filesetView(state);
  }

  /**
   * Commits a version: every file it puts must be a blob this project has (it uploaded the bytes,
   * or a version of it uses them) and that is in the store, with the stated size; the new manifest
   * is written as a blob; then the version is appended on top of the stated parent, or refused with
   * a conflict if someone else committed first. From the check to the append, the named blobs and
   * the manifest are held against eviction.
   */
  @OnCommand('commitVersion')
  async commit(@Payload() req: Request<'commitVersion'>): Result<'commitVersion'> {
    const name = req.name;
    let { state } = await this.filesets.load(req.project, name);
    if (req.request.parent > state.versions.length || !state.exists) {
      // Our cached state may be behind another replica's commit: look again before refusing.
      this.filesets.forget(req.project, name);
      ({ state } = await this.filesets.load(req.project, name));
    }
    if (!state.exists) throw notFound(name);
    // Sent again (its answer was lost, or the catalog restarted while it was being made): the
    // version it made is the answer. A cached state that does not know it yet finds it below: the
    // append conflicts, the state is read again, and the decider recognises the commit.
    const made = req.commitId === undefined ? undefined : committedAs(state, req.commitId);
    if (made !== undefined) return versionView(name, made);
    const parent =
      req.request.parent === 0 ? new Map() : await this.manifestOf(state, req.request.parent);
    const changes = await this.changesOf(req.request);
    // Checked and held in one step, against an eviction deleting them meanwhile (see BlobsRepository).
    const hold = randomUUID();
    const puts = await this.blobOwners.hold(
      hold,
      changes.put.map((file) => file.sha256),
      (tx) => this.uploaded(tx, req.project, changes.put),
    );
    let appended: VersionBlobs | null = null;
    try {
      const applied = applyChanges(parent, { put: puts, delete: changes.delete });
      const encoded = this.manifests.encode(applied.manifest);
      await this.blobOwners.hold(hold, [encoded.sha256], () => Promise.resolve());
      const manifestSha = await this.manifests.save(applied.manifest, encoded);
      const { state: after } = await this.execute(req.project, name, {
        kind: 'commit',
        parent: req.request.parent,
        manifest: {
          sha256: manifestSha,
          files: applied.manifest.size,
          bytes: manifestBytes(applied.manifest),
        },
        changes: { added: applied.added, replaced: applied.replaced, deleted: applied.deleted },
        metadata: req.request.metadata,
        labels: req.request.labels,
        createdBy: req.createdBy,
        ...(req.commitId === undefined ? {} : { commitId: req.commitId }),
      });
      const version =
        (req.commitId === undefined ? undefined : committedAs(after, req.commitId)) ??
        after.versions.at(-1)!;
      appended = {
        project: req.project,
        fileset: name,
        version: version.version,
        blobs: [...new Set([...applied.manifest.values()].map((e) => e.sha256)), manifestSha],
      };
      return versionView(name, version);
    } finally {
      // Once appended, the version stands whatever happens here: a hold left behind only keeps its
      // blobs a day longer, and the projection writes the references too.
      await this.blobOwners.settle(hold, appended).catch((error: unknown) => {
        this.logger.warn(
          { project: req.project, fileset: name, err: describeError(error) },
          'could not settle the blob hold of a commit; it expires in a day',
        );
      });
    }
  }

  /**
   * Copies a version of another project into this one: the next version of this project's file set
   * of the same name (made if there is none), with exactly that version's files. The reuse planner
   * sends it for a result of a project that shares its results with this one (provenance said so),
   * so that the run reads versions of its own project. No bytes are copied: this project comes to
   * own the same blobs, counted against its quota (refused past it, as an upload would be).
   */
  @OnCommand('adoptVersion')
  async adopt(@Payload() req: Request<'adoptVersion'>): Result<'adoptVersion'> {
    const { state: source } = await this.filesets.load(req.from.project, req.name);
    const version = source.exists ? source.versions[req.from.version - 1] : undefined;
    if (version === undefined)
      throw new AcaiError(
        FilesetProblems.VERSION_NOT_FOUND,
        `Project '${req.from.project}' has no version ${req.from.version} of file set '${req.name}' to copy`,
      );
    if (version.evicted)
      throw new AcaiError(
        FilesetProblems.VERSION_EVICTED,
        `Version ${req.from.version} of '${req.name}' in project '${req.from.project}' was evicted: its files are gone, so it cannot be copied`,
      );
    const files = [...(await this.manifests.load(version.manifest.sha256)).entries()];
    await this.blobOwners.own(
      req.project,
      files.map(([, f]) => ({ sha256: f.sha256, size: f.size })),
      (storage, adding) => {
        const refused = quotaRefusal(
          {
            project: req.project,
            usedBytes: storage.usedBytes,
            quotaBytes: quotaOf(storage.quotaBytes, this.defaultQuota.bytes),
          },
          adding,
        );
        if (refused !== undefined) throw refused;
      },
    );
    let { state } = await this.filesets.load(req.project, req.name);
    const made = committedAs(state, req.commitId);
    if (made !== undefined) return versionView(req.name, made);
    if (!state.exists) {
      try {
        ({ state } = await this.execute(req.project, req.name, {
          kind: 'create',
          name: req.name,
          metadata: {},
          labels: [],
          createdBy: req.createdBy,
        }));
      } catch (error) {
        // Made meanwhile by another commit: build on it.
        if (!isProblem(error, FilesetProblems.FILESET_EXISTS)) throw error;
        this.filesets.forget(req.project, req.name);
        ({ state } = await this.filesets.load(req.project, req.name));
      }
    }
    const parent = state.versions.length;
    const before: Manifest = parent === 0 ? new Map() : await this.manifestOf(state, parent);
    const paths = new Set(files.map(([path]) => path));
    return this.commit({
      project: req.project,
      name: req.name,
      request: {
        parent,
        put: files.map(([path, f]) => ({
          path,
          sha256: f.sha256,
          size: f.size,
          mediaType: f.mediaType,
        })),
        delete: [...before.keys()].filter((path) => !paths.has(path)),
        metadata: { copiedFrom: { project: req.from.project, version: req.from.version } },
        labels: [],
      },
      createdBy: req.createdBy,
      commitId: req.commitId,
    });
  }

  /**
   * The files to put, with their sizes from the store. A blob the project does not have is refused
   * exactly as one that is nowhere (same code, same message), so no one learns what other projects
   * uploaded; the size is checked only after that, for the same reason.
   */
  private async uploaded(tx: BlobCheck, project: string, put: readonly FilePut[]) {
    const unowned = new Set(
      await tx.unowned(
        project,
        put.map((f) => f.sha256),
      ),
    );
    const stored = await Promise.all(
      put.map((file) =>
        unowned.has(file.sha256) ? Promise.resolve(null) : this.blobs.stat(file.sha256),
      ),
    );
    return put.map((file, i) => {
      const blob = stored[i];
      if (blob === null || blob === undefined) {
        throw new AcaiError(
          FilesetProblems.UPLOAD_MISSING,
          `put.${i}: no uploaded file has sha256 ${file.sha256}; upload it first (PUT /api/v1/blobs/${file.sha256})`,
          [{ path: `put.${i}.sha256`, message: 'not uploaded' }],
        );
      }
      if (file.size !== undefined && file.size !== blob.size) {
        throw new AcaiError(
          FilesetProblems.SIZE_MISMATCH,
          `put.${i}: '${file.path}' was stated as ${file.size} bytes but the uploaded file has ${blob.size}; state its size as ${blob.size}, or upload the file you meant`,
          [{ path: `put.${i}.size`, message: 'does not match the upload' }],
        );
      }
      return {
        path: file.path,
        sha256: file.sha256,
        size: blob.size,
        mediaType: file.mediaType ?? mediaTypeOf(file.path),
      };
    });
  }

  /** The commit's change list: inline, or (for a large one) in the blob the gateway stored. */
  private async changesOf(
    request: Request<'commitVersion'>['request'],
  ): Promise<{ put: FilePut[]; delete: string[] }> {
    if (request.changesSha256 === undefined) return { put: request.put, delete: request.delete };
    const raw: unknown = JSON.parse(await text(await this.blobs.get(request.changesSha256)));
    const parsed = parseOrThrow(
      CommitRequestSchema.pick({ put: true, delete: true }),
      raw,
      'commit changes',
    );
    return { put: parsed.put, delete: parsed.delete };
  }

  @OnCommand('getFileset')
  async get(@Payload() req: Request<'getFileset'>): Result<'getFileset'> {
    return filesetView(await this.existing(req.project, req.name));
  }

  @OnCommand('searchFilesets')
  searchFilesets(@Payload() req: Request<'searchFilesets'>): Result<'searchFilesets'> {
    return this.search.filesets(
      req.project,
      parseSearch(req.query, { sort: 'name', maxLimit: 500 }),
    );
  }

  @OnCommand('searchVersions')
  searchVersions(@Payload() req: Request<'searchVersions'>): Result<'searchVersions'> {
    return this.search.versions(
      req.project,
      parseSearch(req.query, { sort: '-created', maxLimit: 500 }),
    );
  }

  @OnCommand('getVersion')
  async getVersion(@Payload() req: Request<'getVersion'>): Result<'getVersion'> {
    const state = await this.existing(req.project, req.name);
    return versionView(req.name, resolveVersion(state, req.version));
  }

  /**
   * Whether a version is intact: not evicted, its manifest stored, and every file of it stored at
   * its size. What the reuse planner checks before it takes a version as a job's output.
   */
  @OnCommand('verifyVersion')
  async verifyVersion(@Payload() req: Request<'verifyVersion'>): Result<'verifyVersion'> {
    const state = await this.existing(req.project, req.name);
    const version = resolveVersion(state, req.version);
    const verdict = (problem: string | null) => ({
      fileset: req.name,
      version: version.version,
      intact: problem === null,
      problem,
    });
    if (version.evicted) return verdict('it was evicted: its files are gone');
    let manifest;
    try {
      manifest = await this.manifests.load(version.manifest.sha256);
    } catch {
      return verdict(`its manifest (${version.manifest.sha256}) is missing from the blob store`);
    }
    const entries = [...manifest.entries()];
    let missing: string | null = null;
    let next = 0;
    const check = async () => {
      while (missing === null && next < entries.length) {
        const [path, entry] = entries[next++]!;
        const stored = await this.blobs.stat(entry.sha256);
        if (stored === null)
          missing = `file ${path} (${entry.sha256}) is missing from the blob store`;
        else if (stored.size !== entry.size) {
          missing = `file ${path} is ${stored.size} bytes in the blob store, not ${entry.size}`;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, entries.length) }, check));
    return verdict(missing);
  }

  @OnCommand('listFiles')
  async listFiles(@Payload() req: Request<'listFiles'>): Result<'listFiles'> {
    const state = await this.existing(req.project, req.name);
    const version = resolveVersion(state, req.version);
    const manifest = await this.manifests.load(version.manifest.sha256);
    const paths = [...manifest.keys()]
      .filter(
        (p) =>
          (req.prefix === null || p.startsWith(req.prefix)) &&
          (req.cursor === null || p > req.cursor),
      )
      .sort();
    const page = paths.slice(0, req.limit);
    return {
      items: page.map((path) => ({ path, ...manifest.get(path)! })),
      nextCursor: paths.length > req.limit ? page.at(-1)! : null,
    };
  }

  @OnCommand('resolveFile')
  async resolveFile(@Payload() req: Request<'resolveFile'>): Result<'resolveFile'> {
    const state = await this.existing(req.project, req.name);
    const version = resolveVersion(state, req.version);
    if (version.evicted) {
      throw new AcaiError(
        FilesetProblems.VERSION_EVICTED,
        `Version ${version.version} of '${req.name}' was evicted: its files are gone, its manifest and lineage remain. Recompute it to get them back.`,
      );
    }
    const entry = (await this.manifests.load(version.manifest.sha256)).get(req.path);
    if (entry === undefined) {
      throw new AcaiError(
        FilesetProblems.FILE_NOT_FOUND,
        `Version ${version.version} of '${req.name}' has no file '${req.path}'; list its files to see which it has`,
      );
    }
    return { path: req.path, version: version.version, ...entry };
  }

  @OnCommand('diffVersions')
  async diff(@Payload() req: Request<'diffVersions'>): Result<'diffVersions'> {
    const state = await this.existing(req.project, req.name);
    const from = resolveVersion(state, req.from);
    const to = resolveVersion(state, req.to);
    const diff = diffManifests(
      await this.manifests.load(from.manifest.sha256),
      await this.manifests.load(to.manifest.sha256),
    );
    return { from: from.version, to: to.version, ...diff };
  }

  @OnCommand('changeMetadata')
  async changeMetadata(@Payload() req: Request<'changeMetadata'>): Result<'changeMetadata'> {
    const { state } = await this.execute(req.project, req.name, {
      kind: 'change_metadata',
      target: req.target,
      change: req.change,
    });
    return filesetView(state);
  }

  @OnCommand('changeLabels')
  async changeLabels(@Payload() req: Request<'changeLabels'>): Result<'changeLabels'> {
    const { state } = await this.execute(req.project, req.name, {
      kind: 'change_labels',
      target: req.target,
      add: req.change.add,
      remove: req.change.remove,
    });
    return filesetView(state);
  }

  /**
   * Evicts a version: its files' bytes are removed, unless another live version (of any file set,
   * of any project) still uses them or they are some version's manifest; its manifest, metadata and lineage stay, and it is marked evicted so it can be
   * recomputed. Pinned versions are never evicted.
   */
  @OnCommand('evictVersion')
  async evict(@Payload() req: Request<'evictVersion'>): Result<'evictVersion'> {
    const { state } = await this.execute(req.project, req.name, {
      kind: 'evict',
      version: req.version,
      reason: req.reason,
      ...(req.decision === undefined ? {} : { decision: req.decision }),
    });
    const version = state.versions[req.version - 1]!;
    // The blob references follow the log: wait until they include this eviction.
    await this.caughtUp();
    const blobs = [
      ...new Set(
        [...(await this.manifests.load(version.manifest.sha256)).values()].map((e) => e.sha256),
      ),
    ];
    // Deleted only if no live version of any project uses them, no version has them as its
    // manifest, and no commit holds them; a commit coming later finds them missing.
    const unused = await this.blobOwners.collect(blobs, (sha) => this.blobs.delete(sha));
    this.logger.info(
      {
        project: req.project,
        fileset: req.name,
        version: req.version,
        deleted: unused.length,
        shared: blobs.length - unused.length,
      },
      'version evicted',
    );
    return {
      ...versionView(req.name, version),
      deletedBlobs: unused.length,
      sharedBlobs: blobs.length - unused.length,
    };
  }

  @OnCommand('pinVersion')
  async pin(@Payload() req: Request<'pinVersion'>): Result<'pinVersion'> {
    const { state } = await this.execute(req.project, req.name, {
      kind: 'pin',
      version: req.version,
      pinned: req.pinned,
    });
    return versionView(req.name, state.versions[req.version - 1]!);
  }

  /** Waits until the search tables (and blob references) have applied the log as of now. */
  private async caughtUp(): Promise<void> {
    if (!(await this.projections.catchUp(10_000))) {
      throw new AcaiError(
        FilesetProblems.CATALOG_BEHIND,
        'The catalog is behind the event log: the version is evicted, but its bytes are not removed yet. Evict it again in a moment to remove them.',
      );
    }
  }

  private async existing(project: string, name: string): Promise<FilesetState> {
    const { state } = await this.filesets.load(project, name);
    if (!state.exists) throw notFound(name);
    return state;
  }

  private async manifestOf(state: FilesetState, version: number) {
    const v = state.versions[version - 1];
    if (v === undefined) {
      throw new AcaiError(
        FilesetProblems.FILESET_PARENT_MISSING,
        `File set '${state.name ?? ''}' is at version ${state.versions.length}; there is no version ${version} to commit on. Commit with parent ${state.versions.length}.`,
      );
    }
    return this.manifests.load(v.manifest.sha256);
  }

  private execute(project: string, name: string, command: FilesetCommand) {
    return this.filesets.execute(project, name, (state) => filesetDecider.decide(command, state));
  }
}

function notFound(name: string): AcaiError {
  return new AcaiError(FilesetProblems.FILESET_NOT_FOUND, `No file set '${name}' in this project`);
}
