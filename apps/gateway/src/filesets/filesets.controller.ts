import { pipeline } from 'node:stream/promises';
import { Body, Controller, Param, Query, Req, Res, Inject } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import tar from 'tar-stream';
import { z } from 'zod';
import {
  AcaiError,
  FilesetProblems,
  parseOrThrow,
  type CommandResult,
  type Creator,
  type FileEntry,
  type Page,
} from '@acai/contracts';
import { CommandSender, LOGGER, type EventingLogger } from '@acai/eventing';
import { commitChanges } from '@acai/blobstore';
import { Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { downloadHeaders } from '../http/download-headers.js';
import { parseRange } from '../http/range.js';
import { bodyOf, pathOf, queryOf, Route, Routes } from '../http/routes.js';
import { GatewayBlobs } from './gateway-blobs.js';

export const SearchQuerySchema = z.record(z.string(), z.union([z.string(), z.array(z.string())]));

/** Versions are named by number, `latest`, or a label such as `prod`. */
function versionRef(ref: string): number | string {
  return /^\d+$/.test(ref) ? Number(ref) : ref;
}

function creator(caller: Principal): Creator {
  return { kind: 'key', keyId: caller.keyId };
}

/** File sets: create, commit versions, read files (ranges, tar), diff, metadata and labels. */
@Controller()
export class FilesetsController {
  constructor(
    private readonly commands: CommandSender,
    @Inject(LOGGER) private readonly logger: EventingLogger,
    private readonly blobs: GatewayBlobs,
  ) {}

  @Route(Routes.createFileset)
  create(
    @Caller() caller: Principal,
    @Body() input: unknown,
  ): Promise<CommandResult<'createFileset'>> {
    const request = bodyOf(Routes.createFileset, input, 'file set');
    return this.commands.send('createFileset', {
      project: caller.project,
      request,
      createdBy: creator(caller),
    });
  }

  /** Search file sets: name prefix, labels, metadata predicates, creation time (see README). */
  @Route(Routes.searchFilesets)
  list(
    @Caller() caller: Principal,
    @Query() query: unknown,
  ): Promise<CommandResult<'searchFilesets'>> {
    return this.commands.send('searchFilesets', {
      project: caller.project,
      query: parseOrThrow(SearchQuerySchema, query ?? {}, 'query'),
    });
  }

  @Route(Routes.getFileset)
  get(@Caller() caller: Principal, @Param() params: unknown): Promise<CommandResult<'getFileset'>> {
    const { name } = pathOf(Routes.getFileset, params);
    return this.commands.send('getFileset', { project: caller.project, name });
  }

  /** Commits a version on top of `parent`: files to put (already uploaded, by sha256) and paths to delete. */
  @Route(Routes.commitVersion)
  async commit(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() input: unknown,
  ): Promise<CommandResult<'commitVersion'>> {
    const { name } = pathOf(Routes.commitVersion, params);
    const parsed = bodyOf(Routes.commitVersion, input, 'commit');
    // Too big for one bus message, the change list travels as a blob, by reference.
    const request = {
      ...parsed,
      ...(await commitChanges(this.blobs.store, parsed.put, parsed.delete)),
    };
    return this.commands.send('commitVersion', {
      project: caller.project,
      name,
      request,
      createdBy: creator(caller),
    });
  }

  @Route(Routes.getVersion)
  version(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<CommandResult<'getVersion'>> {
    const { name, ref } = pathOf(Routes.getVersion, params);
    return this.commands.send('getVersion', {
      project: caller.project,
      name,
      version: versionRef(ref),
    });
  }

  @Route(Routes.listFiles)
  files(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Query() query: unknown,
  ): Promise<CommandResult<'listFiles'>> {
    const { name, ref } = pathOf(Routes.listFiles, params);
    const q = queryOf(Routes.listFiles, query);
    return this.commands.send('listFiles', {
      project: caller.project,
      name,
      version: versionRef(ref),
      prefix: q.prefix ?? null,
      limit: q.limit,
      cursor: q.cursor ?? null,
    });
  }

  /** One file's bytes; honours `Range: bytes=a-b` (206) and answers 416 for a range outside it. */
  @Route(Routes.getFile)
  async file(
    @Caller() caller: Principal,
    @Param() params: Record<string, string>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { path, file } = await this.resolveFile(caller, { ...params, path: params['*'] });
    const range = parseRange(request.headers.range, file.size);
    const headers = {
      ...downloadHeaders(path, file.mediaType),
      'accept-ranges': 'bytes',
      etag: `"${file.sha256}"`,
      'x-content-sha256': file.sha256,
    };
    if (range === 'unsatisfiable') {
      void reply.header('content-range', `bytes */${file.size}`);
      throw new AcaiError(
        FilesetProblems.RANGE_NOT_SATISFIABLE,
        `The range '${request.headers.range ?? ''}' is outside '${path}' (${file.size} bytes): ask for bytes 0-${Math.max(0, file.size - 1)} at most, or for the whole file without a Range header`,
      );
    }
    const stream = await this.blobs.store.get(file.sha256, range);
    reply.hijack();
    reply.raw.writeHead(range === undefined ? 200 : 206, {
      ...headers,
      'content-length': String(range === undefined ? file.size : range.end - range.start + 1),
      ...(range === undefined
        ? {}
        : { 'content-range': `bytes ${range.start}-${range.end}/${file.size}` }),
    });
    await pipeline(stream, reply.raw).catch((error: unknown) => {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'download ended early',
      );
    });
  }

  /**
   * The file a download (REST or gRPC) asks for: `{ name, ref, path }`, checked with the route's
   * schema; its sha256, size and media type.
   */
  async resolveFile(
    caller: Principal,
    params: unknown,
  ): Promise<{ path: string; file: CommandResult<'resolveFile'> }> {
    const { name, ref, path } = pathOf(Routes.getFile, params);
    const file = await this.commands.send('resolveFile', {
      project: caller.project,
      name,
      version: versionRef(ref),
      path,
    });
    return { path, file };
  }

  /** A whole version as a tar stream, files in path order. */
  @Route(Routes.getArchive)
  async archive(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { name, ref } = pathOf(Routes.getArchive, params);
    const project = caller.project;
    const version = await this.commands.send('getVersion', {
      project,
      name,
      version: versionRef(ref),
    });
    if (version.evicted) {
      throw new AcaiError(
        FilesetProblems.VERSION_EVICTED,
        `Version ${version.version} of '${name}' was evicted: its files are gone, its manifest and lineage remain. Recompute it to get them back.`,
      );
    }
    const pack = tar.pack();
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'application/x-tar',
      'content-disposition': `attachment; filename="${name}-v${version.version}.tar"`,
      'x-content-type-options': 'nosniff',
    });
    const sending = pipeline(pack, reply.raw);
    try {
      let cursor: string | null = null;
      do {
        const page: Page<FileEntry> = await this.commands.send('listFiles', {
          project,
          name,
          version: version.version,
          prefix: null,
          limit: 1000,
          cursor,
        });
        for (const file of page.items) {
          const entry = pack.entry({ name: file.path, size: file.size });
          await pipeline(await this.blobs.store.get(file.sha256), entry);
        }
        cursor = page.nextCursor;
      } while (cursor !== null);
      pack.finalize();
    } catch (error) {
      pack.destroy(error instanceof Error ? error : new Error(String(error)));
    }
    await sending.catch((error: unknown) => {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'archive ended early',
      );
    });
  }

  @Route(Routes.diffVersions)
  diff(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Query() query: unknown,
  ): Promise<CommandResult<'diffVersions'>> {
    const { name } = pathOf(Routes.diffVersions, params);
    const q = queryOf(Routes.diffVersions, query);
    return this.commands.send('diffVersions', {
      project: caller.project,
      name,
      from: versionRef(q.from),
      to: versionRef(q.to),
    });
  }

  /** `{ "op": "merge" | "set", "value": {...} }` or `{ "op": "remove", "keys": [...] }`; `?version=N` for a version. */
  @Route(Routes.changeMetadata)
  metadata(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Query() query: unknown,
    @Body() input: unknown,
  ): Promise<CommandResult<'changeMetadata'>> {
    const { name } = pathOf(Routes.changeMetadata, params);
    const target = queryOf(Routes.changeMetadata, query);
    const change = bodyOf(Routes.changeMetadata, input, 'metadata change');
    return this.commands.send('changeMetadata', {
      project: caller.project,
      name,
      target: { version: target.version ?? null },
      change,
    });
  }

  /** `{ "add": [...], "remove": [...] }`; `?version=N` for a version. */
  @Route(Routes.changeLabels)
  labels(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Query() query: unknown,
    @Body() input: unknown,
  ): Promise<CommandResult<'changeLabels'>> {
    const { name } = pathOf(Routes.changeLabels, params);
    const target = queryOf(Routes.changeLabels, query);
    const change = bodyOf(Routes.changeLabels, input, 'labels change');
    return this.commands.send('changeLabels', {
      project: caller.project,
      name,
      target: { version: target.version ?? null },
      change,
    });
  }

  /** Removes a version's bytes (shared ones stay); keeps its manifest and lineage. `{ "reason"?: string }` */
  @Route(Routes.evictVersion)
  evict(
    @Caller() caller: Principal,
    @Param() params: unknown,
    @Body() input: unknown,
  ): Promise<CommandResult<'evictVersion'>> {
    const { name, version } = pathOf(Routes.evictVersion, params);
    const { reason } = bodyOf(Routes.evictVersion, input ?? {}, 'eviction');
    return this.commands.send('evictVersion', {
      project: caller.project,
      name,
      version,
      reason: reason ?? `evicted by ${caller.keyId}`,
    });
  }

  @Route(Routes.pinVersion)
  pin(@Caller() caller: Principal, @Param() params: unknown): Promise<CommandResult<'pinVersion'>> {
    return this.pinned(caller, pathOf(Routes.pinVersion, params), true);
  }

  @Route(Routes.unpinVersion)
  unpin(
    @Caller() caller: Principal,
    @Param() params: unknown,
  ): Promise<CommandResult<'pinVersion'>> {
    return this.pinned(caller, pathOf(Routes.unpinVersion, params), false);
  }

  private pinned(
    caller: Principal,
    at: { name: string; version: number },
    pinned: boolean,
  ): Promise<CommandResult<'pinVersion'>> {
    return this.commands.send('pinVersion', {
      project: caller.project,
      name: at.name,
      version: at.version,
      pinned,
    });
  }
}
