import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import {
  Module,
  type Abstract,
  type DynamicModule,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { trace } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { EntitySchema, MigrationInterface } from 'typeorm';
import { z } from 'zod';
import { defaultTopology, isolatedTopology, type StoredEvent } from '@acai/contracts';
import {
  BusDeadLetterAdmin,
  BusJobControl,
  BusWorkQueue,
  CommandClient,
  CommandSender,
  connectBus,
  DeadLetterAdmin,
  JobControl,
  LOGGER,
  WorkQueue,
  ensureStreams,
  EventStore,
  JetStreamTransport,
  PostgresDeadLetters,
  serveDeadLetters,
  type Bus,
} from '@acai/eventing';
import {
  commonConfig,
  loadConfig,
  type CommonConfig,
  type ConfigOf,
  type ConfigSpec,
} from './config.js';
import { ConsumerMetrics } from './consumer-metrics.js';
import { openDatabase } from './database.js';
import { createLogger, redactUrl } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import { PinoNestLogger } from './nest-logger.js';
import { AcaiErrorsFilter, answerClientError, frameworkErrors } from './errors.filter.js';
import { OpsController } from './ops.controller.js';
import { ServiceContext } from './service-context.js';
import { startTelemetry, stopTelemetry } from './telemetry.js';

/** The oldest Node.js acai runs on (the one `npm ci` installs into node_modules/.bin). */
export const MINIMUM_NODE_MAJOR = 24;

export interface ServiceDefinition<C extends ConfigSpec> {
  readonly name: string;
  /** The service's own variables, besides the common ones. */
  readonly config: C;
  /** Name and default of the variable holding the HTTP port. */
  readonly port: { readonly variable: keyof ConfigOf<C> & string };
  readonly entities?: ReadonlyArray<(abstract new () => object) | EntitySchema>;
  readonly migrations?: ReadonlyArray<new () => MigrationInterface>;
  /** The service's Nest module: controllers, event and command handlers. */
  readonly module: Type;
  /** Providers the module needs that are built from the context (repositories, runners). */
  readonly providers?: (
    ctx: ServiceContext<CommonConfig & ConfigOf<C>>,
  ) => Promise<ProviderValue[]> | ProviderValue[];
  /** Aggregates whose every event this service folds into its caches (see JetStreamTransport). */
  readonly observers?: (
    resolve: <T>(token: Type<T>) => T,
  ) => ReadonlyArray<{ aggregate: string; observe: (event: StoredEvent) => void }>;
  /** Hooks run once the app listens, and before it closes (e.g. stop pulling work). */
  readonly onStarted?: (
    app: INestApplication,
    ctx: ServiceContext<CommonConfig & ConfigOf<C>>,
  ) => Promise<void>;
  readonly onClosing?: (
    app: INestApplication,
    ctx: ServiceContext<CommonConfig & ConfigOf<C>>,
  ) => Promise<void>;
  /** Adjusts the app before it listens (filters, error handlers). */
  readonly configure?: (
    app: NestFastifyApplication,
    ctx: ServiceContext<CommonConfig & ConfigOf<C>>,
  ) => void;
  /** Adds to the HTTP server before it listens (e.g. a body parser that streams uploads). */
  readonly configureHttp?: (
    fastify: FastifyInstance,
    ctx: ServiceContext<CommonConfig & ConfigOf<C>>,
  ) => void;
  /** Largest request body, in bytes (gateway). */
  readonly bodyLimit?: (config: CommonConfig & ConfigOf<C>) => number;
  /** How long a client may take (gateway): see {@link HttpTimeouts}. */
  readonly timeouts?: (config: CommonConfig & ConfigOf<C>) => HttpTimeouts;
}

/**
 * Limits on slow clients, in milliseconds. A connection that sends nothing and receives nothing
 * for `idleMs` is closed; so is one whose request headers have not all come within `headersMs`
 * (at most `requestMs`), or whose whole request (an upload included) has not come within
 * `requestMs`.
 */
export interface HttpTimeouts {
  readonly headersMs: number;
  readonly idleMs: number;
  readonly requestMs: number;
}

export interface ProviderValue {
  readonly provide: Type | Abstract<unknown> | string | symbol;
  readonly useValue: unknown;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Extra span processors (tests use an in-memory exporter). */
  readonly spanProcessors?: SpanProcessor[];
  readonly logDestination?: DestinationStream;
}

export interface RunningService<C extends CommonConfig = CommonConfig> {
  readonly ctx: ServiceContext<C>;
  readonly app: NestFastifyApplication;
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts one acai service: validated config, logger, tracing, bus (with its streams), database
 * (with migrations), the Nest app with ops endpoints, and the JetStream transport for its handlers.
 */
export async function startService<C extends ConfigSpec>(
  def: ServiceDefinition<C>,
  options: StartOptions = {},
): Promise<RunningService<CommonConfig & ConfigOf<C>>> {
  const env = options.env ?? process.env;
  const config = loadConfig({ ...commonConfig, ...def.config }, env) as CommonConfig & ConfigOf<C>;
  const logger = createLogger(def.name, config.ACAI_LOG_LEVEL, options.logDestination);
  const topology =
    config.ACAI_BUS_PREFIX === 'acai' ? defaultTopology : isolatedTopology(config.ACAI_BUS_PREFIX);

  let bus: Bus;
  try {
    const credentials =
      config.ACAI_NATS_CREDENTIALS !== undefined
        ? await readBusCredentials(config.ACAI_NATS_CREDENTIALS, def.name)
        : config.ACAI_NATS_USER !== undefined
          ? { user: config.ACAI_NATS_USER, password: config.ACAI_NATS_PASSWORD ?? '' }
          : undefined;
    bus = await connectBus({
      url: config.NATS_URL,
      name: def.name,
      topology,
      ...(credentials === undefined ? {} : { credentials }),
    });
    await ensureStreams(bus, { replicas: config.ACAI_STREAM_REPLICAS });
  } catch (error) {
    if (error instanceof CredentialsError) throw error;
    const refused = /authorization|authentication/i.test(String(error));
    throw new Error(
      `${def.name}: cannot reach NATS JetStream at ${redactUrl(config.NATS_URL)} (${error instanceof Error ? error.message : String(error)}). ` +
        (refused
          ? 'The server wants credentials: set ACAI_NATS_CREDENTIALS to this service’s file (npm run up writes them under $ACAI_HOME/nats-users), or ACAI_NATS_USER and ACAI_NATS_PASSWORD.'
          : 'Start nats-server with -js, or set NATS_URL.'),
      { cause: error },
    );
  }
  // A subject this service's user may not use is a bug in its permissions (or an attack with its
  // credentials): say so loudly, once per subject.
  void (async () => {
    const reported = new Set<string>();
    for await (const status of bus.nc.status()) {
      if (status.type !== 'error' || status.error.name !== 'PermissionViolationError') continue;
      if (reported.has(status.error.message)) continue;
      reported.add(status.error.message);
      logger.error(
        { err: status.error.message },
        'NATS refused this service a subject: its permissions (docs/bus-permissions.md) do not allow it',
      );
    }
  })();
  const schema = config.ACAI_DB_SCHEMA ?? def.name;
  const db = await openDatabase({
    url: config.DATABASE_URL,
    schema,
    ...(def.entities ? { entities: def.entities } : {}),
    ...(def.migrations ? { migrations: def.migrations } : {}),
  }).catch(async (error: unknown) => {
    await bus.close();
    throw new Error(
      `${def.name}: cannot open Postgres at ${redactUrl(config.DATABASE_URL)} (${error instanceof Error ? error.message : String(error)}). ` +
        'Check DATABASE_URL and that the server is running.',
      { cause: error },
    );
  });

  startTelemetry({
    service: def.name,
    otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    ...(options.spanProcessors ? { processors: options.spanProcessors } : {}),
  });
  // Whatever was opened is closed again if the start fails half way (a port in use, a bad
  // migration), so a failed start leaves no connection behind.
  let app: NestFastifyApplication | undefined;
  let deadLetterControl: { stop(): void } | undefined;
  let started: {
    ctx: ServiceContext<CommonConfig & ConfigOf<C>>;
    url: string;
    app: NestFastifyApplication;
  };
  try {
    const metrics = new ServiceMetrics(def.name);
    const deadLetters: PostgresDeadLetters = new PostgresDeadLetters(db, {
      logger,
      monitor: new ConsumerMetrics(metrics.registry, () => deadLetters.counts()),
    });
    const ctx = new ServiceContext<CommonConfig & ConfigOf<C>>(
      def.name,
      config,
      logger,
      bus,
      db,
      new EventStore(bus, def.name),
      new CommandClient(bus),
      deadLetters,
      metrics,
    );
    const extra = (await def.providers?.(ctx)) ?? [];

    @Module({
      imports: [def.module],
      controllers: [OpsController],
    })
    class RootModule {}

    // The ports every handler may ask for by type; the context itself is for composition roots.
    const ports: ProviderValue[] = [
      { provide: ServiceContext, useValue: ctx },
      { provide: CommandSender, useValue: ctx.commands },
      { provide: WorkQueue, useValue: new BusWorkQueue(bus) },
      { provide: JobControl, useValue: new BusJobControl(bus, logger) },
      { provide: DeadLetterAdmin, useValue: new BusDeadLetterAdmin(bus, logger) },
      { provide: LOGGER, useValue: logger },
    ];
    const global: DynamicModule = {
      module: class PlatformModule {},
      global: true,
      providers: [...ports, ...extra],
      exports: [...ports, ...extra].map((p) => p.provide),
    };

    const timeouts = def.timeouts?.(config);
    const adapter = new FastifyAdapter({
      bodyLimit: def.bodyLimit?.(config) ?? 1024 * 1024,
      // Requests refused before a route runs answer problem documents too.
      frameworkErrors: frameworkErrors(logger),
      clientErrorHandler: answerClientError,
      ...(timeouts === undefined
        ? {}
        : {
            connectionTimeout: timeouts.idleMs,
            requestTimeout: timeouts.requestMs,
            http: {
              // Node refuses to start with a headers timeout longer than the request timeout.
              headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
              // How often Node looks for requests past those limits (30 s by default).
              connectionsCheckingInterval: Math.max(250, Math.min(timeouts.headersMs, 30_000) / 4),
            },
          }),
    });
    const created = await NestFactory.create<NestFastifyApplication>(
      { module: RootModule, imports: [global] },
      adapter,
      // Fastify's own JSON parser reads bodies; each app adds the other types it takes (the
      // gateway: uploads), so a body of any other type is refused rather than read as a form.
      { logger: new PinoNestLogger(logger), abortOnError: false, bodyParser: false },
    );
    app = created;
    const fastify = created.getHttpAdapter().getInstance();
    def.configureHttp?.(fastify, ctx);
    // The HTTP server span (see instrumentation.ts) gets the route, a name a dashboard can group.
    fastify.addHook('onRequest', async (request) => {
      const route = request.routeOptions.url;
      const span = trace.getActiveSpan();
      if (route === undefined || span === undefined) return;
      span.setAttribute('http.route', route);
      span.updateName(`${request.method} ${route}`);
    });
    fastify.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });

    created.useGlobalFilters(new AcaiErrorsFilter(logger));
    created.connectMicroservice(
      {
        strategy: new JetStreamTransport({
          bus,
          service: def.name,
          deadLetters: ctx.deadLetters,
          logger,
          ackWaitMs: config.ACAI_EVENT_ACK_WAIT_MS,
          observers: def.observers?.((token) => created.get(token)) ?? [],
        }),
      },
      { inheritAppConfig: true },
    );
    await created.startAllMicroservices();
    // The platform admin's questions about this service's dead letters (through the gateway).
    deadLetterControl = serveDeadLetters(bus, def.name, deadLetters, logger);
    const port = Number(config[def.port.variable]);
    await created.listen({ port, host: config.ACAI_HTTP_HOST });
    const address = fastify.server.address();
    const actualPort = typeof address === 'object' && address !== null ? address.port : port;
    const url = `http://${config.ACAI_HTTP_HOST}:${actualPort}`;
    await def.onStarted?.(created, ctx);
    logger.info(
      { url, nats: config.NATS_URL, schema, stream: topology.streams.events },
      `${def.name} ready`,
    );
    started = { ctx, url, app: created };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    await stopTelemetry().catch(() => undefined);
    throw error;
  }
  const { ctx, url } = started;
  const nest = started.app;

  let closing: Promise<void> | undefined;
  return {
    ctx,
    app: nest,
    url,
    close() {
      closing ??= (async () => {
        logger.info({}, `${def.name} shutting down`);
        deadLetterControl?.stop();
        await def.onClosing?.(nest, ctx);
        await nest.close();
        // Redriven letters whose consumers stopped: their outcome is recorded before the database goes.
        await ctx.deadLetters.drain();
        await bus.close();
        await db.destroy();
        // Spans still in the exporter's batch are sent before the process goes.
        await stopTelemetry();
        logger.info({}, `${def.name} stopped`);
      })();
      return closing;
    },
  };
}

/**
 * For a service's main.ts: start it, stop it cleanly on SIGINT/SIGTERM, exit non-zero on a failed
 * start. Started by the launcher (with an IPC channel), it reports where it listens or why it
 * could not start, and stops when the launcher goes away, so no service outlives it.
 */
export function runMain<C extends ConfigSpec>(def: ServiceDefinition<C>): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MINIMUM_NODE_MAJOR) {
    process.stderr.write(
      `${def.name} needs Node.js ${MINIMUM_NODE_MAJOR} or later; this is ${process.version}. ` +
        `Start it through npm (npm run up, or npm exec -- node ${process.argv[1] ?? 'main.js'}): ` +
        `npm ci installs Node ${MINIMUM_NODE_MAJOR} into node_modules/.bin. Or install Node ${MINIMUM_NODE_MAJOR}.\n`,
    );
    process.exit(1);
  }
  const report = (message: Record<string, unknown>) => {
    if (process.send === undefined || !process.connected) return;
    process.send({ ...message, service: def.name }, (error: Error | null) => {
      // The launcher is gone: nothing to tell.
      void error;
    });
  };
  // An error nothing caught leaves the service in a state nobody knows: it is logged, the service
  // closes what it can (2 s at most) and exits non-zero, and its supervisor starts a fresh one.
  let running: RunningService | undefined;
  let crashed = false;
  const crash = (kind: 'uncaughtException' | 'unhandledRejection', error: unknown) => {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    if (running === undefined) process.stderr.write(`${def.name}: ${kind}: ${detail}\n`);
    else
      running.ctx.logger.fatal(
        { err: detail, kind },
        'uncaught error: exiting so that the supervisor starts a fresh process',
      );
    if (crashed) return;
    crashed = true;
    setTimeout(() => process.exit(1), 2_000).unref();
    void (running?.close() ?? Promise.resolve())
      .catch(() => undefined)
      .finally(() => process.exit(1));
  };
  process.on('uncaughtException', (error) => crash('uncaughtException', error));
  process.on('unhandledRejection', (reason) => crash('unhandledRejection', reason));
  startService(def).then(
    (service) => {
      running = service;
      const stop = (signal: string) => {
        service.ctx.logger.info({ signal }, 'signal received');
        const force = setTimeout(
          () => process.exit(1),
          service.ctx.config.ACAI_SHUTDOWN_GRACE_MS + 5_000,
        );
        force.unref();
        service.close().then(
          () => process.exit(0),
          (error: unknown) => {
            service.ctx.logger.error(
              { err: error instanceof Error ? error.message : String(error) },
              'unclean shutdown',
            );
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      if (process.send !== undefined) {
        process.once('disconnect', () => stop('launcher gone'));
        report({ type: 'acai:ready', url: service.url });
      }
    },
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const code = systemErrorCode(error);
      process.stderr.write(`${def.name} could not start: ${message}\n`);
      report({ type: 'acai:failed', message, code });
      // Let the report reach the launcher before the channel closes with the process.
      setTimeout(() => process.exit(1), 100);
    },
  );
}

/** The `code` of a system error (EADDRINUSE …), here or in the error's causes. */
function systemErrorCode(error: unknown): string | null {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return null;
}

/** The credentials file cannot be used: the service does not start, and says why. */
class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

const BusCredentialsSchema = z.object({ user: z.string().min(1), password: z.string().min(1) });

/** Reads a NATS credentials file; errors name the file, never its content. */
async function readBusCredentials(
  file: string,
  service: string,
): Promise<{ user: string; password: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CredentialsError(
      `${service}: cannot read ACAI_NATS_CREDENTIALS ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = BusCredentialsSchema.safeParse(parsed);
  if (!result.success) {
    throw new CredentialsError(
      `${service}: ACAI_NATS_CREDENTIALS ${file} is not a JSON object with "user" and "password"`,
    );
  }
  return result.data;
}
