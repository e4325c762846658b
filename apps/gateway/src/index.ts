import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AcaiError, asyncApiDocument, CommonProblems } from '@acai/contracts';
import { blobStoreFromUrl } from '@acai/blobstore';
import type { ServiceDefinition } from '@acai/platform';
import { GatewayBlobs } from './filesets/gateway-blobs.js';
import { ApiKeyEntity, ProjectEntity } from './auth/auth.entities.js';
import { GatewayAuth1764115300000, GatewayKeyScopes1796271000000 } from './auth/auth.migration.js';
import { bootstrapDefaultProject } from './auth/bootstrap.js';
import { KeysRepository } from './auth/keys.repository.js';
import { RateLimiter } from './auth/rate-limit.js';
import { BusKeyRevocations, KeyRevocations } from './auth/revocations.js';
import { gatewayConfig } from './config.js';
import { SecretBox } from './secrets/secret-box.js';
import { GatewaySecrets1796400000000 } from './secrets/secrets.migration.js';
import { SecretsRepository } from './secrets/secrets.repository.js';
import { GatewayModule } from './gateway.module.js';
import { BusJobLogs, JobLogs } from './jobs/logs.reader.js';
import { ProjectLogStreams } from './jobs/log-streams.js';
import { SseHeartbeat } from './events/events.controller.js';
import { ProjectEvents } from './events/event-stream.js';
import { busMetrics } from './events/event-log-metrics.js';
import { SubscriberCredentials } from './events/subscriber-credentials.js';
import { EventCatalogueDocument } from './openapi/openapi.controller.js';
import { GrpcGateway } from './grpc/server.js';
import { parseYamlBody, YAML_TYPES } from './http/yaml-body.js';
import { Routes, type RouteSpec } from './http/routes.js';

export const gatewayService: ServiceDefinition<typeof gatewayConfig> = {
  name: 'gateway',
  config: gatewayConfig,
  port: { variable: 'ACAI_PORT' },
  module: GatewayModule,
  entities: [ProjectEntity, ApiKeyEntity],
  migrations: [
    GatewayAuth1764115300000,
    GatewayKeyScopes1796271000000,
    GatewaySecrets1796400000000,
  ],
  bodyLimit: (config) => config.ACAI_MAX_BODY_BYTES,
  timeouts: (config) => ({
    headersMs: config.ACAI_HEADERS_TIMEOUT_MS,
    idleMs: config.ACAI_IDLE_TIMEOUT_MS,
    requestMs: config.ACAI_REQUEST_TIMEOUT_MS,
  }),
  providers: async (ctx) => {
    const keys = new KeysRepository(ctx.db, ctx.logger);
    const limiter = new RateLimiter({
      perSecond: ctx.config.ACAI_RATE_LIMIT_PER_SECOND,
      burst: ctx.config.ACAI_RATE_LIMIT_BURST,
    });
    // A key revoked on any replica is forgotten here at once; while the bus is away, nothing cached
    // is trusted (a revocation could be missed).
    const revocations = new BusKeyRevocations(ctx.bus, ctx.logger);
    revocations.listen({
      revoked: (keyId) => {
        keys.forget(keyId);
        limiter.forget(keyId);
      },
      listening: (heard) => keys.trustCache(heard),
    });
    const logStreams = new ProjectLogStreams(
      ctx.bus,
      {
        maxBytes: ctx.config.ACAI_LOG_RETENTION_BYTES,
        maxAgeMs: ctx.config.ACAI_LOG_RETENTION_DAYS * 24 * 3_600_000,
        replicas: ctx.config.ACAI_STREAM_REPLICAS,
      },
      ctx.logger,
    );
    // Before the gateway listens (and so before /readyz answers), the default key exists.
    if (ctx.config.ACAI_BOOTSTRAP_KEY_FILE !== undefined) {
      await bootstrapDefaultProject(keys, ctx.config.ACAI_BOOTSTRAP_KEY_FILE, ctx.logger);
    }
    // Every project's logs stream, made or brought to the configured retention; not waited for
    // (nodes ask for a missing one when they publish).
    void keys.projectNames().then(
      (names) => logStreams.ensureEvery(names),
      (error: unknown) =>
        ctx.logger.warn({ err: error }, 'could not list the projects to make their logs streams'),
    );
    const blobs = blobStoreFromUrl(
      ctx.config.ACAI_BLOB_STORE ?? path.resolve(ctx.config.ACAI_HOME, 'blobs'),
    );
    const secretsKey = ctx.config.ACAI_SECRETS_KEY;
    const secrets = new SecretsRepository(
      ctx.db,
      ctx.config.ACAI_DB_SCHEMA ?? 'gateway',
      secretsKey === undefined ? undefined : new SecretBox(secretsKey),
    );
    busMetrics(ctx.metrics, ctx.bus);
    return [
      { provide: KeysRepository, useValue: keys },
      { provide: SecretsRepository, useValue: secrets },
      { provide: RateLimiter, useValue: limiter },
      { provide: KeyRevocations, useValue: revocations },
      { provide: JobLogs, useValue: new BusJobLogs(ctx.bus, logStreams) },
      { provide: ProjectLogStreams, useValue: logStreams },
      {
        provide: ProjectEvents,
        useValue: new ProjectEvents(ctx.bus, ctx.metrics),
      },
      {
        provide: EventCatalogueDocument,
        useValue: new EventCatalogueDocument(asyncApiDocument(ctx.bus.topology)),
      },
      {
        provide: SubscriberCredentials,
        useValue: new SubscriberCredentials(
          ctx.bus,
          natsServer(ctx.config.NATS_URL),
          ctx.config.ACAI_NATS_AUTH_DIR,
          ctx.logger,
        ),
      },
      { provide: SseHeartbeat, useValue: new SseHeartbeat(ctx.config.ACAI_SSE_HEARTBEAT_MS) },
      {
        provide: GatewayBlobs,
        useValue: new GatewayBlobs(blobs, ctx.config.ACAI_MAX_UPLOAD_BYTES),
      },
    ];
  },
  // The gRPC API on its own port, once the app (whose controllers it calls) is up.
  onStarted: async (app, ctx) => {
    const grpc = GrpcGateway.of(app, ctx.logger);
    grpcServers.set(app, grpc);
    const port = await grpc.listen(ctx.config.ACAI_HTTP_HOST, ctx.config.ACAI_GRPC_PORT);
    ctx.logger.info({ port, host: ctx.config.ACAI_HTTP_HOST }, 'gRPC API listening');
  },
  onClosing: async (app, ctx) => {
    await grpcServers.get(app)?.close(ctx.config.ACAI_SHUTDOWN_GRACE_MS);
  },
  configureHttp: (fastify, ctx) => {
    // Every route Fastify serves, so a test can hold them against the route table.
    const served: ServedRoute[] = [];
    servedRoutes.set(fastify, served);
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) served.push({ method: String(method), url: route.url });
    });
    // A commit lists every file of the version: it gets its own, larger, body limit.
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.includes('POST') && /\/api\/v1\/filesets\/:name\/versions$/.test(route.url)) {
        route.bodyLimit = ctx.config.ACAI_MAX_COMMIT_BYTES;
      }
    });
    // Uploads are streamed to the blob store as they arrive, never buffered: the parser hands the
    // raw request stream to the handler (and the body limit is the upload limit, checked while hashing).
    const raw = (
      _request: unknown,
      payload: unknown,
      done: (err: Error | null, body?: unknown) => void,
    ) => done(null, payload);
    fastify.addContentTypeParser('application/octet-stream', raw);
    // A run spec may come as YAML: read into the value JSON would have given, for one validation.
    fastify.addContentTypeParser(
      [...YAML_TYPES],
      { parseAs: 'string' },
      (
        request: FastifyRequest,
        body: string | Buffer,
        done: (err: Error | null, body?: unknown) => void,
      ) => {
        if (!YAML_ROUTES.has(request.routeOptions.url ?? '') || request.method !== 'POST') {
          done(notJson(request.headers['content-type']));
          return;
        }
        try {
          done(null, parseYamlBody(typeof body === 'string' ? body : body.toString('utf8')));
        } catch (error) {
          done(error instanceof Error ? error : new Error(String(error)));
        }
      },
    );
    // Any other type: the raw stream for an upload, and for every other route a clear 415 (a
    // JSON body sent as a form, as `curl -d` does without a content-type, is not read as a form).
    const uploadOrRefuse = (
      request: FastifyRequest,
      payload: unknown,
      done: (err: Error | null, body?: unknown) => void,
    ) => {
      if (UPLOAD_ROUTES.test(request.routeOptions.url ?? '')) done(null, payload);
      else done(notJson(request.headers['content-type']));
    };
    if (fastify.hasContentTypeParser('application/x-www-form-urlencoded')) {
      fastify.removeContentTypeParser('application/x-www-form-urlencoded');
    }
    fastify.addContentTypeParser('application/x-www-form-urlencoded', uploadOrRefuse);
    fastify.removeContentTypeParser('text/plain');
    fastify.addContentTypeParser('text/plain', uploadOrRefuse);
    fastify.addContentTypeParser('*', uploadOrRefuse);
  },
};

const grpcServers = new WeakMap<object, GrpcGateway>();

/** The port a started gateway's gRPC API listens on (`ACAI_GRPC_PORT`, or the one bound for 0). */
export function grpcPortOf(app: object): number {
  const server = grpcServers.get(app);
  if (server === undefined) throw new Error('this gateway has no gRPC server (not started?)');
  return server.port;
}

export interface ServedRoute {
  readonly method: string;
  readonly url: string;
}
const servedRoutes = new WeakMap<FastifyInstance, ServedRoute[]>();

/** The routes a gateway's Fastify instance registered (method and URL as Fastify has them). */
export function routesServedBy(fastify: FastifyInstance): readonly ServedRoute[] {
  return servedRoutes.get(fastify) ?? [];
}

/** A NATS URL without the credentials it may hold (a subscriber's are given apart). */
function natsServer(url: string): string {
  const first = url.split(',')[0]!.trim();
  try {
    const parsed = new URL(first);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return first;
  }
}

/** Routes whose body is a file's bytes, of whatever type. */
const UPLOAD_ROUTES = /^\/api\/v1\/blobs(\/:sha256)?$/;
/** Routes that take a YAML body as well as JSON: submitting a run. */
/** The paths of the routes whose body may be YAML (`yaml: true`): the run spec's. */
const YAML_ROUTES: ReadonlySet<string> = new Set(
  Object.values(Routes as Record<string, RouteSpec>)
    .filter((route) => route.yaml === true)
    .map((route) => route.path),
);

function notJson(contentType: string | undefined): AcaiError {
  return new AcaiError(
    CommonProblems.UNSUPPORTED_MEDIA_TYPE,
    `Send the body as JSON with the header "content-type: application/json" (it came as ${contentType === undefined || contentType === '' ? 'no content-type' : `"${contentType}"`}; with curl: -H 'content-type: application/json')`,
  );
}

export { KeysRepository };
export { nestPath, Routes, type RouteSpec } from './http/routes.js';
