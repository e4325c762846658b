import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { catalogService } from '@acai/catalog';
import { executorService } from '@acai/executor';
import { gatewayService, grpcPortOf } from '@acai/gateway';
import { startService, type RunningService } from '@acai/platform';
import { provenanceService } from '@acai/provenance';
import { provisionerService } from '@acai/provisioner';
import { schedulerService } from '@acai/scheduler';
import { codeForJobs, jobPath, runsJobsAsDeveloper } from '@acai/devstack';
import { AcaiClient } from '@acai/sdk';
import { eventually, sharedWithJobs, testEnv, uniqueTag } from '@acai/testkit';

export interface TestSystem {
  readonly tag: string;
  readonly gatewayUrl: string;
  /** Where the gateway's gRPC API listens (`127.0.0.1:<port>`; a restarted gateway's too). */
  readonly grpcAddress: string;
  /** The admin key of project `default`. */
  readonly key: string;
  readonly home: string;
  /** Where the executors make jobs' folders (`ACAI_WORK_DIR`). */
  readonly workDir: string;
  /** A folder jobs can read and write (not under /tmp: a sandboxed job has its own /tmp). */
  readonly shared: string;
  /** The repository's examples/, where jobs can read them (see `codeForJobs`). */
  examples(): Promise<string>;
  readonly services: Record<string, RunningService>;
  readonly env: NodeJS.ProcessEnv;
  api(method: string, pathname: string, body?: unknown, key?: string | null): Promise<ApiResponse>;
  /**
   * The SDK's client of the gateway with the admin key of `default`, or `key`: the way the specs
   * that test behaviour through the API call it (raw `api` stays for HTTP edge cases). It does not
   * retry: a 429 or 503 the test did not expect fails it rather than being waited out.
   */
  client(key?: string): AcaiClient;
  /** Waits for the run to end (20 s by default: a safety net, not a performance assertion). */
  waitForRun(runId: string, key?: string, timeoutMs?: number): Promise<RunBody>;
  /**
   * Uploads bytes as a blob: `PUT /blobs/{sha256}` when `sha256` is stated, else `POST /blobs`;
   * with the admin key of `default`, or `key`'s project.
   */
  upload(
    content: string | Buffer,
    sha256?: string,
    key?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(name: string): Promise<void>;
  /** Starts a service stopped with `stop` again, as a restarted process would (its own schema). */
  start(name: keyof typeof ALL): Promise<void>;
  close(): Promise<void>;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

export interface RunBody {
  id: string;
  name: string;
  status: string;
  jobs: { id: string; name: string; status: string }[];
}

const ALL = {
  catalog: catalogService,
  provisioner: provisionerService,
  scheduler: schedulerService,
  executor: executorService,
  provenance: provenanceService,
  gateway: gatewayService,
} as const;

/**
 * Starts every acai service in this process against the test nats-server and Postgres, each with
 * its own connections, on a subject prefix, stream names and schemas no other test uses. They talk
 * only over the bus, as they do in separate processes.
 */
export async function startSystem(
  options: {
    spanProcessors?: SpanProcessor[];
    env?: NodeJS.ProcessEnv;
    /** Services not to start in this process (a test runs them as processes of its own). */
    without?: (keyof typeof ALL)[];
    /** The folder to make $ACAI_HOME in (default: the temp folder). */
    homeIn?: string;
  } = {},
): Promise<TestSystem> {
  const tag = uniqueTag();
  const { natsUrl, databaseUrl } = testEnv();
  const home = await mkdtemp(path.join(options.homeIn ?? os.tmpdir(), 'acai-e2e-'));
  const keyFile = path.join(home, 'default.key');
  const sandboxed = !runsJobsAsDeveloper(process.getuid?.(), {});
  const shared = await sharedWithJobs('acai-e2e-', { writable: true });
  const workDir = sandboxed
    ? path.join('/var/lib/acai-work', `e2e-${tag}`)
    : path.join(home, 'work');

  const services: Record<string, RunningService> = {};
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    ACAI_BUS_PREFIX: `t${tag}`,
    ACAI_HOME: home,
    ACAI_HTTP_PORT: '0',
    ACAI_PORT: '0',
    ACAI_GRPC_PORT: '0',
    ACAI_LOG_LEVEL: process.env['ACAI_TEST_LOG_LEVEL'] ?? 'silent',
    ACAI_BOOTSTRAP_KEY_FILE: keyFile,
    ACAI_SHUTDOWN_GRACE_MS: '2000',
    ACAI_WORK_DIR: workDir,
    ACAI_SECRETS_KEY: randomBytes(32).toString('base64'),
    // Each project's logs stream reserves this on the shared nats-server's store.
    ACAI_LOG_RETENTION_BYTES: String(64 * 1024 * 1024),
    // Jobs get a fixed PATH: this Node first (when their users can run it), as `npm run up` does.
    ACAI_JOB_PATH: await jobPath(),
    // As root (CI), jobs run as the slot users; a developer's own user cannot, so says so.
    ...(sandboxed ? {} : { ACAI_SANDBOX: 'none' }),
    ...options.env,
  };
  const start = (name: keyof typeof ALL) =>
    startService(ALL[name] as never, {
      env: { ...baseEnv, ACAI_DB_SCHEMA: `${name}_${tag}` },
      ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    });
  try {
    for (const name of Object.keys(ALL) as (keyof typeof ALL)[]) {
      if (options.without?.includes(name)) continue;
      services[name] = await start(name);
    }
  } catch (error) {
    for (const service of Object.values(services).reverse()) await service.close();
    throw error;
  }
  const gatewayUrl = services['gateway']!.url;
  const key = (await readFile(keyFile, 'utf8')).trim();

  const api = async (
    method: string,
    pathname: string,
    body?: unknown,
    withKey: string | null = key,
  ) => {
    const headers: Record<string, string> = {};
    if (withKey !== null) headers['authorization'] = `Bearer ${withKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${gatewayUrl}${pathname}`, {
      method,
      headers,
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    // An event stream never ends: what it sends in its first half second stands for its body.
    const text = response.headers.get('content-type')?.startsWith('text/event-stream')
      ? await firstOfStream(response, 500)
      : await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (logs).
    }
    return { status: response.status, body: parsed, text };
  };

  const stopped = new Set<string>();
  return {
    tag,
    gatewayUrl,
    get grpcAddress() {
      return `127.0.0.1:${grpcPortOf(services['gateway']!.app)}`;
    },
    key,
    home,
    workDir,
    shared,
    examples: () =>
      codeForJobs(
        path.resolve(import.meta.dirname, '../../examples'),
        path.join(shared, 'examples'),
      ),
    services,
    env: baseEnv,
    api,
    client: (withKey = key) =>
      new AcaiClient({ url: gatewayUrl, key: withKey, retry: { retries: 0 } }),
    waitForRun: (runId, withKey = key, timeoutMs = 20_000) =>
      eventually(
        `run ${runId} to end`,
        async () => {
          const r = await api('GET', `/api/v1/runs/${runId}`, undefined, withKey);
          const run = r.body as RunBody;
          return r.status === 200 && ['succeeded', 'failed', 'cancelled'].includes(run.status)
            ? run
            : undefined;
        },
        timeoutMs,
      ),
    async upload(content, sha256, withKey = key) {
      const response = await fetch(
        `${gatewayUrl}/api/v1/blobs${sha256 === undefined ? '' : `/${sha256}`}`,
        {
          method: sha256 === undefined ? 'POST' : 'PUT',
          headers: {
            authorization: `Bearer ${withKey}`,
            'content-type': 'application/octet-stream',
          },
          body: content,
        },
      );
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async stop(name) {
      stopped.add(name);
      await services[name]!.close();
    },
    async start(name) {
      services[name] = await start(name);
      stopped.delete(name);
    },
    async close() {
      for (const name of Object.keys(ALL).reverse()) {
        if (!stopped.has(name)) await services[name]?.close();
      }
      const bus = await import('@acai/eventing');
      const cleanup = await bus.connectBus({
        url: natsUrl,
        name: 'cleanup',
        topology: services['gateway']!.ctx.bus.topology,
      });
      await bus.deleteStreams(cleanup);
      await cleanup.close();
      await rm(home, { recursive: true, force: true });
      await rm(workDir, { recursive: true, force: true });
      await rm(shared, { recursive: true, force: true });
    },
  };
}

/** What an endless response (an event stream) sends within `ms`; then the connection is closed. */
async function firstOfStream(response: Response, ms: number): Promise<string> {
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => void reader.cancel(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/**
 * An executor as its own process (from its build), as on a node of its own: it can be SIGKILLed
 * like a lost machine. Its work is handed to another executor 2 s after its heartbeats stop.
 * `env` adds to (or overrides) its environment.
 */
export function startExecutorProcess(
  system: TestSystem,
  id: string,
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  return spawn(
    process.execPath,
    [path.resolve(import.meta.dirname, '../../apps/executor/dist/main.js')],
    {
      env: {
        ...system.env,
        ACAI_DB_SCHEMA: `executor_${system.tag}`,
        ACAI_EXECUTOR_ID: id,
        ACAI_EXECUTOR_SLOTS: '1',
        ACAI_WORK_ACK_WAIT_MS: '2000',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

/** Pids of the processes whose working folder is under `folder` (a job's, with its children). */
export async function processesIn(folder: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = await readlink(`/proc/${entry}/cwd`);
      if (cwd === folder || cwd.startsWith(`${folder}/`)) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** Runs examples/mnist/import.mjs against the system: MNIST as file set `mnist`. */
export function importMnist(
  system: Pick<TestSystem, 'gatewayUrl' | 'key'>,
): Promise<{ code: number | null; output: string }> {
  return runImport(system, 'mnist/import.mjs');
}

/**
 * Runs an example's import script (`examples/<script>`, with `args`) against the system, as a user
 * would: its exit code and everything it printed.
 */
export function runImport(
  system: Pick<TestSystem, 'gatewayUrl' | 'key'>,
  script: string,
  ...args: string[]
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.resolve(import.meta.dirname, '../../examples', script), ...args],
      { env: { PATH: process.env['PATH'], ACAI_URL: system.gatewayUrl, ACAI_KEY: system.key } },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}
