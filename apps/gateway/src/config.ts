import { z } from 'zod';
import { blobConfig, port, positiveInt, type ConfigSpec } from '@acai/platform';

const rate = (fallback: number) =>
  z.coerce.number({ error: 'expected a number, 0 or more' }).min(0).default(fallback);

export const gatewayConfig = {
  ACAI_PORT: {
    schema: port(8080),
    description: 'Port of the REST API (and the gateway’s ops endpoints)',
  },
  ACAI_GRPC_PORT: {
    schema: port(50051),
    description:
      'Port of the gRPC API (package acai.v1, with health checking and reflection); 0: any free port',
  },
  ACAI_MAX_BODY_BYTES: {
    schema: positiveInt(1024 * 1024),
    description: 'Largest JSON request body in bytes; larger requests get 413',
  },
  ACAI_MAX_COMMIT_BYTES: {
    schema: positiveInt(64 * 1024 * 1024),
    description:
      'Largest commit request (a version of many files lists them all); larger ones get 413',
  },
  ACAI_HEADERS_TIMEOUT_MS: {
    schema: positiveInt(15_000),
    description:
      'A client must send all of a request’s headers within this time, or is disconnected',
  },
  ACAI_IDLE_TIMEOUT_MS: {
    schema: positiveInt(120_000),
    description:
      'A connection that sends and receives nothing for this long is closed (a followed log stream is exempt)',
  },
  ACAI_REQUEST_TIMEOUT_MS: {
    schema: positiveInt(3_600_000),
    description:
      'A client must send a whole request, an upload included, within this time, or is disconnected',
  },
  ACAI_RATE_LIMIT_PER_SECOND: {
    schema: rate(5000),
    description:
      'Requests per second each API key may send to one gateway replica (a token bucket); more get 429 with Retry-After. 0: no limit',
  },
  ACAI_RATE_LIMIT_BURST: {
    schema: positiveInt(10_000),
    description: 'Requests an API key may send at once before ACAI_RATE_LIMIT_PER_SECOND applies',
  },
  ACAI_BOOTSTRAP_KEY_FILE: {
    schema: z.string().optional(),
    description:
      'On first start, create project `default` with its admin key (also the platform admin key) and write the key here (mode 0600)',
  },
  ACAI_SECRETS_KEY: {
    schema: z.string().min(1).optional(),
    description:
      'Encrypts projects’ secrets at rest: 32 random bytes in base64 (`openssl rand -base64 32`; npm run up makes one in $ACAI_HOME/secrets.key). Unset: secrets are off (503)',
    secret: true,
  },
  ACAI_LOG_RETENTION_BYTES: {
    schema: positiveInt(1024 * 1024 * 1024),
    description:
      'Job output each project keeps at most, in bytes (its own logs stream; the oldest lines go first). Reserved on nats-server’s store per project',
  },
  ACAI_LOG_RETENTION_DAYS: {
    schema: z.coerce
      .number({ error: 'expected a number of days, more than 0' })
      .positive({ error: 'expected a number of days, more than 0' })
      .default(7),
    description: 'Days a project keeps its jobs’ output',
  },
  ACAI_SSE_HEARTBEAT_MS: {
    schema: positiveInt(15_000),
    description:
      'A `: heartbeat` comment is sent on each open event stream (GET /api/v1/events) this often, so proxies keep it open',
  },
  ACAI_NATS_AUTH_DIR: {
    schema: z.string().min(1).optional(),
    description:
      'The folder of the nats-server configuration (auth.conf, services.users, nats-server.pid) the gateway rewrites to add subscribers’ NATS users, then signals a reload; npm run up sets it. Unset: subscriber credentials are off (503)',
  },
  ...blobConfig,
} satisfies ConfigSpec;
