import { pipeline } from 'node:stream/promises';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import tar from 'tar-stream';
import { z } from 'zod';
import {
  AcaiError,
  CommitRequestSchema,
  CreateFilesetRequestSchema,
  ErrorCode,
  LabelsChangeSchema,
  MetadataChangeSchema,
  parseOrThrow,
  type Creator,
  type Page,
} from '@acai/contracts';
import { commitChanges } from '@acai/blobstore';
import { ServiceContext } from '@acai/platform';
import { ApiKeyGuard, Caller } from '../auth/auth.guard.js';
import type { Principal } from '../auth/keys.repository.js';
import { parseRange } from '../http/range.js';
import { GatewayBlobs } from './gateway-blobs.js';

const ListQuery = z.object({
  prefix: z.string().max(1024).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional(),
});
export const SearchQuerySchema = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
const TargetQuery = z.object({ version: z.coerce.number().int().positive().optional() });
const EvictBody = z.strictObject({ reason: z.string().min(1).max(500).optional() });
const DiffQuery = z.object({ from: z.string().min(1), to: z.string().min(1) });

interface FileEntry {
  path: string;
  sha256: string;
  size: number;
  mediaType: string;
}

/** Versions are named by number, `latest`, or a label such as `prod`. */
function versionRef(ref: string): number | string {
  return /^\d+$/.test(ref) ? Number(ref) : ref;
}

function creator(caller: Principal): Creator {
  return { kind: 'key', keyId: caller.keyId };
}

function body(input: unknown): unknown {
  return input ?? {};
}

/** File sets: create, commit versions, read files (ranges, tar), diff, metadata and labels. */
@Controller('api/v1/filesets')
@UseGuards(ApiKeyGuard)
export class FilesetsController {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly blobs: GatewayBlobs,
  ) {}

  @Post()
  @HttpCode(201)
  create(@Caller() caller: Principal, @Body() input: unknown) {
    const request = parseOrThrow(CreateFilesetRequestSchema, body(input), 'file set');
    return this.ctx.commands.send('createFileset', {
      project: caller.project,
      request,
      createdBy: creator(caller),
    });
  }

  /** Search file sets: name prefix, labels, metadata predicates, creation time (see README). */
  @Get()
  list(@Caller() caller: Principal, @Query() query: unknown): Promise<Page<unknown>> {
    return this.ctx.commands.send('searchFilesets', {
      project: caller.project,
      query: parseOrThrow(SearchQuerySchema, query ?? {}, 'query'),
    });
  }

  @Get(':name')
  get(@Caller() caller: Principal, @Param('name') name: string) {
    return this.ctx.commands.send('getFileset', { project: caller.project, name });
  }

  /** Commits a version on top of `parent`: files to put (already uploaded, by sha256) and paths to delete. */
  @Post(':name/versions')
  @HttpCode(201)
  async commit(@Caller() caller: Principal, @Param('name') name: string, @Body() input: unknown) {
    let request = parseOrThrow(CommitRequestSchema, body(input), 'commit');
    if (request.changesSha256 !== undefined) {
      throw new AcaiError(
        ErrorCode.ValidationFailed,
        'changesSha256 is set by the gateway, not by clients',
        [{ path: 'changesSha256', message: 'not allowed' }],
      );
    }
    // Too big for one bus message, the change list travels as a blob, by reference.
    request = {
      ...request,
      ...(await commitChanges(this.blobs.store, request.put, request.delete)),
    };
    return this.ctx.commands.send('commitVersion', {
      project: caller.project,
      name,
      request,
      createdBy: creator(caller),
    });
  }

  @Get(':name/versions/:ref')
  version(@Caller() caller: Principal, @Param('name') name: string, @Param('ref') ref: string) {
    return this.ctx.commands.send('getVersion', {
      project: caller.project,
      name,
      version: versionRef(ref),
    });
  }

  @Get(':name/versions/:ref/files')
  files(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Param('ref') ref: string,
    @Query() query: unknown,
  ) {
    const q = parseOrThrow(ListQuery, query ?? {}, 'query');
    return this.ctx.commands.send('listFiles', {
      project: caller.project,
      name,
      version: versionRef(ref),
      prefix: q.prefix ?? null,
      limit: q.limit,
      cursor: q.cursor ?? null,
    });
  }

  /** One file's bytes; honours `Range: bytes=a-b` (206) and answers 416 for a range outside it. */
  @Get(':name/versions/:ref/files/*')
  async file(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Param('ref') ref: string,
    @Param('*') path: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const file = await this.ctx.commands.send<'resolveFile', FileEntry>('resolveFile', {
      project: caller.project,
      name,
      version: versionRef(ref),
      path,
    });
    const range = parseRange(request.headers.range, file.size);
    const headers = {
      'content-type': file.mediaType,
      'accept-ranges': 'bytes',
      etag: `"${file.sha256}"`,
      'x-content-sha256': file.sha256,
    };
    if (range === 'unsatisfiable') {
      await reply
        .status(416)
        .headers({ ...headers, 'content-range': `bytes */${file.size}` })
        .send();
      return;
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
      this.ctx.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'download ended early',
      );
    });
  }

  /** A whole version as a tar stream, files in path order. */
  @Get(':name/versions/:ref/archive')
  async archive(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Param('ref') ref: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const project = caller.project;
    const version = await this.ctx.commands.send<
      'getVersion',
      { version: number; evicted: boolean }
    >('getVersion', {
      project,
      name,
      version: versionRef(ref),
    });
    if (version.evicted) {
      throw new AcaiError(
        ErrorCode.NotFound,
        `Version ${version.version} of '${name}' was evicted: its files are gone`,
      );
    }
    const pack = tar.pack();
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'application/x-tar',
      'content-disposition': `attachment; filename="${name}-v${version.version}.tar"`,
    });
    const sending = pipeline(pack, reply.raw);
    try {
      let cursor: string | null = null;
      do {
        const page: Page<FileEntry> = await this.ctx.commands.send<'listFiles', Page<FileEntry>>(
          'listFiles',
          {
            project,
            name,
            version: version.version,
            prefix: null,
            limit: 1000,
            cursor,
          },
        );
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
      this.ctx.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'archive ended early',
      );
    });
  }

  @Get(':name/diff')
  diff(@Caller() caller: Principal, @Param('name') name: string, @Query() query: unknown) {
    const q = parseOrThrow(DiffQuery, query ?? {}, 'query');
    return this.ctx.commands.send('diffVersions', {
      project: caller.project,
      name,
      from: versionRef(q.from),
      to: versionRef(q.to),
    });
  }

  /** `{ "op": "merge" | "set", "value": {...} }` or `{ "op": "remove", "keys": [...] }`; `?version=N` for a version. */
  @Patch(':name/metadata')
  metadata(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Query() query: unknown,
    @Body() input: unknown,
  ) {
    const target = parseOrThrow(TargetQuery, query ?? {}, 'query');
    const change = parseOrThrow(MetadataChangeSchema, body(input), 'metadata change');
    return this.ctx.commands.send('changeMetadata', {
      project: caller.project,
      name,
      target: { version: target.version ?? null },
      change,
    });
  }

  /** `{ "add": [...], "remove": [...] }`; `?version=N` for a version. */
  @Patch(':name/labels')
  labels(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Query() query: unknown,
    @Body() input: unknown,
  ) {
    const target = parseOrThrow(TargetQuery, query ?? {}, 'query');
    const change = parseOrThrow(LabelsChangeSchema, body(input), 'labels change');
    return this.ctx.commands.send('changeLabels', {
      project: caller.project,
      name,
      target: { version: target.version ?? null },
      change,
    });
  }

  /** Removes a version's bytes (shared ones stay); keeps its manifest and lineage. `{ "reason"?: string }` */
  @Post(':name/versions/:version/evict')
  @HttpCode(200)
  evict(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() input: unknown,
  ) {
    const v = Number(version);
    if (!Number.isInteger(v) || v < 1)
      throw new AcaiError(ErrorCode.NotFound, `No version '${version}'`);
    const { reason } = parseOrThrow(EvictBody, body(input), 'eviction');
    return this.ctx.commands.send('evictVersion', {
      project: caller.project,
      name,
      version: v,
      reason: reason ?? `evicted by ${caller.keyId}`,
    });
  }

  @Put(':name/versions/:version/pin')
  pin(@Caller() caller: Principal, @Param('name') name: string, @Param('version') version: string) {
    return this.pinned(caller, name, version, true);
  }

  @Delete(':name/versions/:version/pin')
  unpin(
    @Caller() caller: Principal,
    @Param('name') name: string,
    @Param('version') version: string,
  ) {
    return this.pinned(caller, name, version, false);
  }

  private pinned(caller: Principal, name: string, version: string, pinned: boolean) {
    const v = Number(version);
    if (!Number.isInteger(v) || v < 1)
      throw new AcaiError(ErrorCode.NotFound, `No version '${version}'`);
    return this.ctx.commands.send('pinVersion', {
      project: caller.project,
      name,
      version: v,
      pinned,
    });
  }
}
