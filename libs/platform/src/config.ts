import { z } from 'zod';

export interface VariableSpec<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  readonly description: string;
  /** Secret values are never logged or echoed in errors. */
  readonly secret?: boolean;
}

export type ConfigSpec = Record<string, VariableSpec>;
export type ConfigOf<C extends ConfigSpec> = { [K in keyof C]: z.output<C[K]['schema']> };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * Reads and validates every variable of a service's config at once, at boot. An error names each
 * bad variable, says what was expected, and shows the value unless it is secret.
 */
export function loadConfig<C extends ConfigSpec>(
  spec: C,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<C> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(spec)) {
    const raw = env[name];
    const value = raw === '' ? undefined : raw;
    const parsed = variable.schema.safeParse(value);
    if (parsed.success) {
      out[name] = parsed.data;
    } else {
      const shown =
        value === undefined ? 'not set' : variable.secret === true ? 'set (hidden)' : `'${value}'`;
      problems.push(
        `${name} (${variable.description}): ${parsed.error.issues[0]?.message ?? 'invalid'}; it is ${shown}`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<C>;
}

export const port = (fallback: number) =>
  z.coerce.number({ error: 'expected a port number' }).int().min(0).max(65535).default(fallback);

export const positiveInt = (fallback: number) =>
  z.coerce.number({ error: 'expected a whole number' }).int().positive().default(fallback);

export const nonNegativeInt = (fallback: number) =>
  z.coerce.number({ error: 'expected a whole number' }).int().min(0).default(fallback);

/** Variables every service reads. */
export const commonConfig = {
  NATS_URL: {
    schema: z.string().default('nats://127.0.0.1:4222'),
    description: 'NATS server with JetStream, e.g. nats://127.0.0.1:4222',
  },
  ACAI_NATS_CREDENTIALS: {
    schema: z.string().min(1).optional(),
    description:
      'A JSON file {"user", "password"} (mode 0600) this service logs in to NATS with; npm run up writes one per service under $ACAI_HOME/nats-users',
  },
  ACAI_NATS_USER: {
    schema: z.string().min(1).optional(),
    description:
      'Instead of ACAI_NATS_CREDENTIALS (containers): the NATS user this service logs in as, its service name',
  },
  ACAI_NATS_PASSWORD: {
    schema: z.string().min(1).optional(),
    description: 'The password of ACAI_NATS_USER',
    secret: true,
  },
  DATABASE_URL: {
    schema: z
      .string({
        error:
          'required: a Postgres URL such as postgres://user@127.0.0.1:5432/acai (npm run up sets it)',
      })
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL'),
    description: 'Postgres for read models; each service uses its own schema',
    secret: true,
  },
  ACAI_DB_SCHEMA: {
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'expected a lower-case SQL identifier')
      .optional(),
    description: 'Postgres schema of this service (default: the service name)',
  },
  ACAI_BUS_PREFIX: {
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9]*$/, 'expected lower-case letters and digits')
      .default('acai'),
    description:
      'First subject token and stream-name stem; change it to run two acai systems on one NATS',
  },
  ACAI_STREAM_REPLICAS: {
    schema: z.coerce.number({ error: 'expected 1, 3 or 5' }).int().min(1).max(5).default(1),
    description: 'Copies of each JetStream stream when acai creates them (3 in a NATS cluster)',
  },
  ACAI_HTTP_HOST: {
    schema: z.string().default('127.0.0.1'),
    description: 'Interface the service listens on',
  },
  ACAI_LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    description: 'Log level',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    schema: z.url({ error: 'expected a URL such as http://127.0.0.1:4318' }).optional(),
    description: 'OTLP/HTTP collector for traces; unset: no export',
  },
  ACAI_SHUTDOWN_GRACE_MS: {
    schema: positiveInt(10_000),
    description: 'How long shutdown waits for in-flight work before handing it back',
  },
  ACAI_EVENT_ACK_WAIT_MS: {
    schema: positiveInt(10_000),
    description:
      'An event a service was handling when it died is handled again (by a replica or its restart) after this long; events in hand are kept in progress every third of it',
  },
} satisfies ConfigSpec;

export type CommonConfig = ConfigOf<typeof commonConfig>;

/** Variables of the services that read or write file bytes (gateway, catalog, executor). */
export const blobConfig = {
  ACAI_HOME: {
    schema: z.string().default('.acai'),
    description: 'Data folder; local blobs default to $ACAI_HOME/blobs',
  },
  ACAI_BLOB_STORE: {
    schema: z.string().optional(),
    description:
      'Where file bytes live: a folder (default $ACAI_HOME/blobs) or s3://bucket/prefix?region=..&endpoint=..&forcePathStyle=true',
  },
  ACAI_MAX_UPLOAD_BYTES: {
    schema: z.coerce
      .number({ error: 'expected a number of bytes' })
      .int()
      .positive()
      .default(10 * 1024 ** 3),
    description: 'Largest single file upload, in bytes (default 10 GiB); larger uploads get 413',
  },
} satisfies ConfigSpec;
