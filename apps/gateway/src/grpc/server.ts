import { once } from 'node:events';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { INestApplicationContext } from '@nestjs/common';
import { z } from 'zod';
import { AcaiError, CommonProblems, parseOrThrow, TERMINAL_JOB_STATUSES } from '@acai/contracts';
import { GRPC_SERVICES, PROTO_FILES, PROTO_LOAD_OPTIONS } from '@acai/contracts/proto';
import type { EventingLogger } from '@acai/eventing';
import type { Principal } from '../auth/access.js';
import { KeyCheck } from '../auth/key-check.js';
import { KeysController } from '../auth/keys.controller.js';
import { BlobsController } from '../filesets/blobs.controller.js';
import { FilesetsController } from '../filesets/filesets.controller.js';
import { GatewayBlobs } from '../filesets/gateway-blobs.js';
import { VersionsController } from '../filesets/versions.controller.js';
import { pathOf, Routes, type RouteSpec } from '../http/routes.js';
import { parseYamlBody } from '../http/yaml-body.js';
import { JobsController } from '../jobs/jobs.controller.js';
import { LineageController } from '../lineage/lineage.controller.js';
import { ProvisionController } from '../provision/provision.controller.js';
import { RunsController } from '../runs/runs.controller.js';
import { StorageController } from '../storage/storage.controller.js';
import { addressesOf, bindFailure, grpcLogLevel, hostPort } from './bind.js';
import { toMessage, type Message } from './messages.js';
import { GRPC_METHODS, type Guarded, type GrpcService } from './methods.js';
import { withImports } from './reflection.js';
import { grpcErrorOf } from './status.js';
import { fromStruct, type StructMessage } from './struct.js';
import { describeMalformed, type FieldDescriptor } from './wire.js';

/** The most bytes of a file one DownloadFile message carries. */
const DOWNLOAD_MESSAGE_BYTES = 1024 * 1024;

/** How often a followed metrics stream looks for new points. */
const METRICS_POLL_MS = 500;

const LOAD_OPTIONS: protoLoader.Options = PROTO_LOAD_OPTIONS;

/** The API's services, health checking's and reflection's: what reflection lists. */
export function loadDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([...PROTO_FILES, healthProtoPath], LOAD_OPTIONS);
}

/** A request message that could not be decoded, and why (naming the field). */
class MalformedRequest {
  constructor(readonly message: string) {}
}

const MessageDescriptorSchema = z.object({
  name: z.string().optional(),
  field: z
    .array(
      z.object({
        name: z.string(),
        number: z.number(),
        type: z.string(),
        label: z.string().optional(),
      }),
    )
    .optional(),
});

/**
 * A service of the definition whose requests decode into a {@link MalformedRequest} rather than
 * failing: grpc-js would answer INTERNAL, and the caller is told INVALID_ARGUMENT naming the field.
 */
function serviceOf(
  definition: protoLoader.PackageDefinition,
  name: string,
): grpc.ServiceDefinition {
  const service = definition[name];
  if (service === undefined || 'format' in service) {
    throw new Error(`${name} is not a service of the acai.v1 protos`);
  }
  const out: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [method, spec] of Object.entries(service)) {
    const descriptor = MessageDescriptorSchema.parse(spec.requestType.type);
    const fields: FieldDescriptor[] = descriptor.field ?? [];
    out[method] = {
      ...spec,
      requestDeserialize: (bytes: Buffer): object => {
        const type = { name: descriptor.name ?? method, field: fields };
        const fault = describeMalformed(bytes, type);
        if (fault !== null) return new MalformedRequest(fault);
        try {
          return spec.requestDeserialize(bytes);
        } catch (error) {
          return new MalformedRequest(
            describeMalformed(
              bytes,
              type,
              error instanceof Error ? error.message : String(error),
            ) ?? 'Malformed request',
          );
        }
      },
    };
  }
  return out;
}

/** Request messages as proto-loader hands them over, checked at the boundary. */
const StructSchema = z.custom<StructMessage>(
  (value) => typeof value === 'object' && value !== null,
  'a google.protobuf.Struct, required',
);
const text = z.string().default('');
const SearchSchema = z.object({
  query: z.array(z.object({ name: z.string(), value: z.string().default('') })).default([]),
});
const IdSchema = z.object({ id: text });
const UploadPartSchema = z.object({
  header: z
    .object({
      sha256: z.string().optional(),
      size: z.number().int().nonnegative().optional(),
    })
    .optional(),
  data: z.instanceof(Buffer).optional(),
});
type UploadPart = z.output<typeof UploadPartSchema>;

/** A RunSpecRequest: the spec as a Struct, or as the text of a JSON or YAML file. */
const RunSpecRequestSchema = z.object({
  spec: StructSchema.optional(),
  spec_json: z.string().optional(),
  spec_yaml: z.string().optional(),
});

/** The run spec a RunSpecRequest carries, as the REST body would be (validated by the route). */
function runSpecOf(request: z.output<typeof RunSpecRequestSchema>): unknown {
  if (request.spec !== undefined) return fromStruct(request.spec, 'spec');
  if (request.spec_json !== undefined) {
    try {
      return JSON.parse(request.spec_json);
    } catch (error) {
      throw invalid(
        `spec_json is not JSON (${error instanceof Error ? error.message : String(error)}): send the spec file's text as it is`,
        'spec_json',
      );
    }
  }
  if (request.spec_yaml !== undefined) {
    try {
      return parseYamlBody(request.spec_yaml);
    } catch (error) {
      if (!(error instanceof AcaiError)) throw error;
      throw invalid(error.message.replace('The body', 'spec_yaml'), 'spec_yaml');
    }
  }
  throw invalid('RunSpecRequest: set spec, spec_json or spec_yaml to the run spec', 'spec');
}

/** An object without the keys whose value is undefined (a field not sent: a query left out). */
function present<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Search parameters as REST's query string has them: a name given twice has both values. */
function queryOf(parameters: readonly { name: string; value: string }[]) {
  const query: Record<string, string | string[]> = {};
  for (const { name, value } of parameters) {
    const before = query[name];
    query[name] =
      before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return query;
}

function invalid(message: string, path?: string): AcaiError {
  return new AcaiError(
    CommonProblems.INVALID_REQUEST,
    message,
    path === undefined ? undefined : [{ path, message }],
  );
}

/** A route answering JSON of a schema: what a unary method maps to its message. */
type Answering = Guarded & { readonly success: { readonly body: z.ZodType } };

/** The handlers of a service: one for each of its methods, by name. */
type Handlers<S extends GrpcService> = Record<
  keyof (typeof GRPC_METHODS)[S],
  grpc.UntypedHandleCall
>;

interface Controllers {
  readonly runs: RunsController;
  readonly jobs: JobsController;
  readonly filesets: FilesetsController;
  readonly versions: VersionsController;
  readonly blobs: BlobsController;
  readonly lineage: LineageController;
  readonly provision: ProvisionController;
  readonly keys: KeysController;
  readonly storage: StorageController;
}

/**
 * grpc-js logs to the console itself ("E … No address added out of total 1 resolved"): its lines
 * go to the gateway's log instead, its report of a failed bind at debug (the gateway says that one
 * itself). The logger is grpc-js's, for the whole process: the last gateway started sets it.
 */
function quietGrpcLogs(logger: EventingLogger): void {
  const to =
    (level?: 'debug') =>
    (...args: unknown[]) => {
      const line = args.map(String).join(' ');
      logger[level ?? grpcLogLevel(line)]({ component: 'grpc-js' }, line);
    };
  grpc.setLogger({ error: to(), info: to('debug'), debug: to('debug') });
}

/**
 * The gateway's gRPC API (package acai.v1, protos in libs/contracts/proto), with health checking
 * and reflection. Every method is a REST route's operation: the same key check (`KeyCheck`, with
 * the route's scope and the key's rate), the same controller method (validation with the same
 * zod schemas, the same bus commands), the same errors as gRPC statuses (`status.ts`).
 */
export class GrpcGateway {
  private readonly server = new grpc.Server({
    // A file's bytes come and go in chunks; a message is small.
    'grpc.max_receive_message_length': 8 * 1024 * 1024,
  });
  private readonly health: HealthImplementation;
  private boundPort: number | undefined;

  constructor(
    private readonly keys: KeyCheck,
    private readonly c: Controllers,
    private readonly blobs: GatewayBlobs,
    private readonly logger: EventingLogger,
  ) {
    const definition = loadDefinition();
    this.health = new HealthImplementation({
      '': 'SERVING',
      ...Object.fromEntries(GRPC_SERVICES.map((service) => [service, 'SERVING' as const])),
    });
    this.health.addToServer(this.server);
    new ReflectionService(withImports(definition)).addToServer(this.server);
    this.server.addService(serviceOf(definition, 'acai.v1.Filesets'), this.filesets());
    this.server.addService(serviceOf(definition, 'acai.v1.Runs'), this.runs());
    this.server.addService(serviceOf(definition, 'acai.v1.Jobs'), this.jobs());
    this.server.addService(serviceOf(definition, 'acai.v1.Lineage'), this.lineage());
    this.server.addService(serviceOf(definition, 'acai.v1.Resources'), this.resources());
    this.server.addService(serviceOf(definition, 'acai.v1.Projects'), this.projects());
  }

  /** The gateway's controllers and key check, from its Nest app. */
  static of(app: INestApplicationContext, logger: EventingLogger): GrpcGateway {
    return new GrpcGateway(
      app.get(KeyCheck),
      {
        runs: app.get(RunsController),
        jobs: app.get(JobsController),
        filesets: app.get(FilesetsController),
        versions: app.get(VersionsController),
        blobs: app.get(BlobsController),
        lineage: app.get(LineageController),
        provision: app.get(ProvisionController),
        keys: app.get(KeysController),
        storage: app.get(StorageController),
      },
      app.get(GatewayBlobs),
      logger,
    );
  }

  /**
   * Listens on `host:port` (0: a free port); resolves with the port. Binds each address of `host`
   * itself (an IP literal; every address of a name, on the port the first one got), so a failure
   * is said once, naming the address, the reason and what to set: none bound is an error (the
   * gateway does not start, and exits non-zero); some not bound is one warning.
   */
  async listen(host: string, port: number): Promise<number> {
    quietGrpcLogs(this.logger);
    const failures: { address: string; why: string }[] = [];
    let bound: number | undefined;
    for (const ip of await addressesOf(host)) {
      const address = hostPort(ip, bound ?? port);
      try {
        bound = await this.bindOne(address);
      } catch (error) {
        failures.push({ address, why: bindFailure(address, (error as Error).message) });
      }
    }
    if (bound === undefined) {
      throw new Error(failures.map((f) => f.why).join('; ') || `${host} has no address`);
    }
    for (const failure of failures)
      this.logger.warn({ address: failure.address }, `${failure.why} (it serves the others)`);
    this.boundPort = bound;
    return bound;
  }

  private bindOne(address: string): Promise<number> {
    return new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
        error === null ? resolve(port) : reject(error),
      ),
    );
  }

  /** The port it listens on. */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('the gRPC server does not listen yet');
    return this.boundPort;
  }

  /** Says NOT_SERVING, lets calls under way finish for up to `graceMs`, then cancels the rest. */
  async close(graceMs: number): Promise<void> {
    for (const service of ['', ...GRPC_SERVICES]) this.health.setStatus(service, 'NOT_SERVING');
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private filesets(): Handlers<'acai.v1.Filesets'> {
    const { filesets, versions } = this.c;
    const M = GRPC_METHODS['acai.v1.Filesets'];
    return {
      CreateFileset: this.unary(M.CreateFileset, z.object({ fileset: StructSchema }), (caller, r) =>
        filesets.create(caller, fromStruct(r.fileset, 'fileset')),
      ),
      SearchFilesets: this.unary(M.SearchFilesets, SearchSchema, (caller, r) =>
        filesets.list(caller, queryOf(r.query)),
      ),
      GetFileset: this.unary(M.GetFileset, z.object({ name: text }), (caller, r) =>
        filesets.get(caller, r),
      ),
      CommitVersion: this.unary(
        M.CommitVersion,
        z.object({ name: text, commit: StructSchema }),
        (caller, r) => filesets.commit(caller, { name: r.name }, fromStruct(r.commit, 'commit')),
      ),
      GetVersion: this.unary(M.GetVersion, z.object({ name: text, ref: text }), (caller, r) =>
        filesets.version(caller, r),
      ),
      ListFiles: this.unary(
        M.ListFiles,
        z.object({
          name: text,
          ref: text,
          prefix: z.string().optional(),
          limit: z.number().optional(),
          cursor: z.string().optional(),
        }),
        (caller, { name, ref, ...query }) => filesets.files(caller, { name, ref }, present(query)),
      ),
      DiffVersions: this.unary(
        M.DiffVersions,
        z.object({ name: text, from: text, to: text }),
        (caller, { name, ...query }) => filesets.diff(caller, { name }, query),
      ),
      ChangeMetadata: this.unary(
        M.ChangeMetadata,
        z.object({ name: text, version: z.number().optional(), change: StructSchema }),
        (caller, r) =>
          filesets.metadata(
            caller,
            { name: r.name },
            present({ version: r.version }),
            fromStruct(r.change, 'change'),
          ),
      ),
      ChangeLabels: this.unary(
        M.ChangeLabels,
        z.object({ name: text, version: z.number().optional(), change: StructSchema }),
        (caller, r) =>
          filesets.labels(
            caller,
            { name: r.name },
            present({ version: r.version }),
            fromStruct(r.change, 'change'),
          ),
      ),
      SearchVersions: this.unary(M.SearchVersions, SearchSchema, (caller, r) =>
        versions.search(caller, queryOf(r.query)),
      ),
      UploadBlob: this.upload(M.UploadBlob),
      DownloadFile: this.download(M.DownloadFile),
    };
  }

  private runs(): Handlers<'acai.v1.Runs'> {
    const { runs } = this.c;
    const M = GRPC_METHODS['acai.v1.Runs'];
    return {
      SubmitRun: this.unary(M.SubmitRun, RunSpecRequestSchema, (caller, r) =>
        runs.submit(caller, runSpecOf(r)),
      ),
      PlanRun: this.unary(M.PlanRun, RunSpecRequestSchema, (caller, r) =>
        runs.plan(caller, runSpecOf(r)),
      ),
      ListRuns: this.unary(
        M.ListRuns,
        z.object({ limit: z.number().optional(), cursor: z.string().optional() }),
        (caller, r) => runs.list(caller, present(r)),
      ),
      GetRun: this.unary(M.GetRun, IdSchema, (caller, r) => runs.get(caller, r.id)),
      CancelRun: this.unary(M.CancelRun, IdSchema, (caller, r) => runs.cancel(caller, r.id)),
      GetRunTrials: this.unary(M.GetRunTrials, IdSchema, (caller, r) => runs.trials(caller, r.id)),
      GetRunTimeline: this.unary(
        M.GetRunTimeline,
        z.object({ id: text, after: z.number().optional(), limit: z.number().optional() }),
        (caller, { id, ...query }) => runs.timeline(caller, id, present(query)),
      ),
    };
  }

  private jobs(): Handlers<'acai.v1.Jobs'> {
    const { jobs } = this.c;
    const M = GRPC_METHODS['acai.v1.Jobs'];
    return {
      GetJob: this.unary(M.GetJob, IdSchema, (caller, r) => jobs.get(caller, r.id)),
      GetJobHistory: this.unary(M.GetJobHistory, IdSchema, (caller, r) =>
        jobs.history(caller, r.id),
      ),
      ExplainReuse: this.unary(M.ExplainReuse, IdSchema, (caller, r) => jobs.reuse(caller, r.id)),
      StreamLogs: this.serverStream(
        M.StreamLogs,
        z.object({ id: text, follow: z.boolean().default(true) }),
        async function* (caller, r, abort) {
          const { chunks } = await jobs.openLogs(caller, r.id, r.follow, abort);
          for await (const chunk of chunks) {
            for (const line of chunk.lines) yield { time: line.t, stream: line.s, line: line.l };
          }
        },
      ),
      StreamMetrics: this.serverStream(
        M.StreamMetrics,
        z.object({ id: text, name: z.string().optional(), follow: z.boolean().default(true) }),
        async function* (caller, r, abort) {
          // The points of each series sent so far: a series only grows.
          const sent = new Map<string, number>();
          let last = false;
          for (;;) {
            // The status first: once it has ended, the metrics read after it are all there are
            // (and one more read a poll later takes those still on their way to the read model).
            const job = await jobs.get(caller, r.id);
            const { series } = await jobs.metrics(caller, r.id, present({ name: r.name }));
            for (const [name, points] of Object.entries(series)) {
              for (const point of points.slice(sent.get(name) ?? 0)) {
                yield {
                  name,
                  ...(point.step === null ? {} : { step: point.step }),
                  value: point.value,
                  time: point.time,
                  attempt: point.attempt,
                };
              }
              sent.set(name, points.length);
            }
            if (!r.follow || last) return;
            last = TERMINAL_JOB_STATUSES.has(job.status);
            await sleep(METRICS_POLL_MS, undefined, { signal: abort.signal });
          }
        },
      ),
    };
  }

  private lineage(): Handlers<'acai.v1.Lineage'> {
    const M = GRPC_METHODS['acai.v1.Lineage'];
    return {
      GetLineage: this.unary(
        M.GetLineage,
        z.object({
          fileset: z.string().optional(),
          version: z.number().optional(),
          job: z.string().optional(),
          direction: z.string().optional(),
          depth: z.number().optional(),
          limit: z.number().optional(),
          cursor: z.string().optional(),
        }),
        (caller, r) => this.c.lineage.lineage(caller, present(r)),
      ),
      GetImpact: this.unary(
        M.GetImpact,
        z.object({
          fileset: text,
          version: z.number().optional(),
          limit: z.number().optional(),
          cursor: z.string().optional(),
        }),
        (caller, r) => this.c.lineage.impact(caller, present(r)),
      ),
      GetExperimentGraph: this.unary(
        M.GetExperimentGraph,
        z.object({
          run: z.string().optional(),
          limit: z.number().optional(),
          cursor: z.string().optional(),
        }),
        (caller, r) => this.c.lineage.experimentGraph(caller, present(r)),
      ),
    };
  }

  private resources(): Handlers<'acai.v1.Resources'> {
    const { provision } = this.c;
    const M = GRPC_METHODS['acai.v1.Resources'];
    return {
      ListNodes: this.unary(M.ListNodes, z.object({}), (caller) => provision.nodes(caller)),
      PlanProvisioning: this.unary(
        M.PlanProvisioning,
        z.object({ step: StructSchema }),
        (caller, r) => provision.plan(caller, fromStruct(r.step, 'step')),
      ),
    };
  }

  private projects(): Handlers<'acai.v1.Projects'> {
    const { keys, storage } = this.c;
    const M = GRPC_METHODS['acai.v1.Projects'];
    // The project named as its field is (`project`), by the rule of REST's path parameter.
    const project = M.ListKeys.params.shape.name;
    const ProjectSchema = z.object({ project });
    return {
      CreateKey: this.unary(
        M.CreateKey,
        z.object({ project, scope: text, name: z.string().optional() }),
        (caller, { project: name, ...key }) => keys.create(caller, { name }, present(key)),
      ),
      ListKeys: this.unary(M.ListKeys, ProjectSchema, (caller, r) =>
        keys.list(caller, { name: r.project }),
      ),
      RevokeKey: this.unary(M.RevokeKey, z.object({ project, id: text }), (caller, r) =>
        keys.revoke(caller, { name: r.project, id: r.id }),
      ),
      GetStorageBudget: this.unary(M.GetStorageBudget, ProjectSchema, (caller, r) =>
        storage.storageBudget(caller, { name: r.project }),
      ),
      SetStorageBudget: this.unary(
        M.SetStorageBudget,
        z.object({
          project,
          bytes: z.number().optional(),
          alpha: z.number().optional(),
          policy: z.string().optional(),
        }),
        // An unset `bytes` is REST's null: no budget.
        (caller, { project: name, bytes, ...rest }) =>
          storage.setStorageBudget(caller, { name }, { bytes: bytes ?? null, ...present(rest) }),
      ),
    };
  }

  /** The caller of a call, checked as the route's REST request would be. */
  private admit(
    metadata: grpc.Metadata,
    route: Guarded,
    retry: { after?: number },
  ): Promise<Principal> {
    const header = metadata.get('authorization')[0];
    return this.keys.admit(
      typeof header === 'string' ? header : undefined,
      route.auth,
      (seconds) => (retry.after = seconds),
    );
  }

  /** A request message, checked with its schema (INVALID_ARGUMENT naming the field). */
  private requestOf<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
    if (raw instanceof MalformedRequest) throw invalid(raw.message);
    return parseOrThrow(schema, raw, what);
  }

  /** The status a failed call ends with; what is not a refusal is logged (never the request). */
  private failure(
    route: RouteSpec,
    error: unknown,
    retryAfter?: number,
  ): Partial<grpc.StatusObject> {
    if (!(error instanceof AcaiError)) {
      this.logger.error(
        { route: route.path, err: error instanceof Error ? error.message : String(error) },
        'gRPC call failed',
      );
    }
    return grpcErrorOf(error, retryAfter);
  }

  /** A unary method: the route's operation, its answer as the method's typed message. */
  private unary<R extends Answering, S extends z.ZodType>(
    route: R,
    schema: S,
    handle: (caller: Principal, request: z.output<S>) => Promise<z.output<R['success']['body']>>,
  ): grpc.handleUnaryCall<unknown, Message> {
    return (call, callback) => {
      const retry: { after?: number } = {};
      this.admit(call.metadata, route, retry)
        .then((caller) => handle(caller, this.requestOf(schema, call.request, 'request')))
        .then(
          (answer) => callback(null, toMessage(route.success.body, answer)),
          (error: unknown) => callback(this.failure(route, error, retry.after)),
        );
    };
  }

  /**
   * A server stream: the messages `produce` yields, written as the client takes them, until it
   * ends; the client going away aborts `abort` (and so a followed log).
   */
  private serverStream<S extends z.ZodType, M extends object>(
    route: Guarded,
    schema: S,
    produce: (caller: Principal, request: z.output<S>, abort: AbortController) => AsyncGenerator<M>,
  ): grpc.handleServerStreamingCall<unknown, M> {
    return (call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const retry: { after?: number } = {};
      void (async () => {
        try {
          const caller = await this.admit(call.metadata, route, retry);
          const request = this.requestOf(schema, call.request, 'request');
          for await (const message of produce(caller, request, abort)) {
            if (abort.signal.aborted) return;
            if (!call.write(message)) await once(call, 'drain', { signal: abort.signal });
          }
          call.end();
        } catch (error) {
          if (abort.signal.aborted) return;
          call.emit('error', this.failure(route, error, retry.after));
        }
      })();
    };
  }

  /** UploadBlob: an optional header, then the bytes, streamed into the blob store as they come. */
  private upload(
    route: Guarded,
  ): grpc.handleClientStreamingCall<unknown, { sha256: string; size: number }> {
    return (call, callback) => {
      const retry: { after?: number } = {};
      const parts: AsyncIterator<unknown> = call[Symbol.asyncIterator]();
      const partOf = (raw: unknown): UploadPart =>
        this.requestOf(UploadPartSchema, raw, 'UploadBlobRequest');
      void (async () => {
        const caller = await this.admit(call.metadata, route, retry);
        const first = await parts.next();
        const firstPart = first.done === true ? {} : partOf(first.value);
        const header = firstPart.header ?? {};
        const sha256 =
          header.sha256 === undefined
            ? undefined
            : pathOf(Routes.uploadBlob, { sha256: header.sha256 }).sha256;
        async function* bytes(): AsyncGenerator<Buffer> {
          let received = 0;
          if (firstPart.data !== undefined) {
            received += firstPart.data.length;
            yield firstPart.data;
          }
          for (let next = await parts.next(); next.done !== true; next = await parts.next()) {
            const part = partOf(next.value);
            if (part.header !== undefined) {
              throw invalid('UploadBlobRequest: only the first message may be a header', 'header');
            }
            if (part.data !== undefined) {
              received += part.data.length;
              yield part.data;
            }
          }
          if (header.size !== undefined && received !== header.size) {
            throw invalid(
              `UploadBlobRequest: header.size says ${header.size} bytes, ${received} came`,
              'header.size',
            );
          }
        }
        const body = Readable.from(bytes());
        // A client that goes away leaves no blob behind: the store sees the stream fail.
        call.on('cancelled', () => body.destroy(new Error('the client cancelled the upload')));
        let failed: unknown;
        body.on('error', (error) => (failed = error));
        try {
          return await this.c.blobs.receive(caller.project, body, header.size, sha256);
        } catch (error) {
          // The store reports the body's failure as its own: the body's says what was wrong.
          throw failed instanceof AcaiError ? failed : error;
        }
      })().then(
        (blob) => callback(null, blob),
        (error: unknown) => callback(this.failure(route, error, retry.after)),
      );
    };
  }

  /** DownloadFile: the file's facts as initial metadata, then its bytes as they are read. */
  private download(route: Guarded): grpc.handleServerStreamingCall<unknown, { data: Buffer }> {
    const schema = z.object({ name: text, ref: text, path: text });
    return (call) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const retry: { after?: number } = {};
      void (async () => {
        try {
          const caller = await this.admit(call.metadata, route, retry);
          const request = this.requestOf(schema, call.request, 'request');
          const { file } = await this.c.filesets.resolveFile(caller, request);
          const stream = await this.blobs.store.get(file.sha256);
          abort.signal.addEventListener('abort', () => stream.destroy(), { once: true });
          const facts = new grpc.Metadata();
          facts.set('x-content-sha256', file.sha256);
          facts.set('x-content-length', String(file.size));
          facts.set('x-content-type', file.mediaType);
          call.sendMetadata(facts);
          // The store's chunks (64 KiB from a file) gathered into messages of up to 1 MiB.
          let pending: Buffer[] = [];
          let pendingBytes = 0;
          const flush = async () => {
            const data = Buffer.concat(pending, pendingBytes);
            pending = [];
            pendingBytes = 0;
            if (!call.write({ data })) await once(call, 'drain', { signal: abort.signal });
          };
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            pending.push(chunk);
            pendingBytes += chunk.length;
            if (pendingBytes >= DOWNLOAD_MESSAGE_BYTES) await flush();
          }
          if (pendingBytes > 0) await flush();
          call.end();
        } catch (error) {
          if (abort.signal.aborted) return;
          call.emit('error', this.failure(route, error, retry.after));
        }
      })();
    };
  }
}
