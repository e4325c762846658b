import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { startStack, type Stack } from '@acai/devstack';
import { eventually } from '@acai/testkit';

const root = path.resolve(import.meta.dirname, '../..');

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/**
 * What `npm run up` does, for real: nats-server and an embedded Postgres started under a data
 * folder, every service as its own process from its build, supervised. Then a restart on the same
 * folder, and a second stack beside the first.
 */
describe('the launcher', () => {
  const homes: string[] = [];
  const stacks: Stack[] = [];

  /** Launchers started as processes: whatever a failed test left running is stopped here. */
  const launched: ChildProcess[] = [];

  afterAll(async () => {
    for (const child of launched) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    for (const stack of stacks.reverse()) await stack.stop();
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });

  const newHome = async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'acai-up-'));
    homes.push(home);
    return home;
  };

  const client = (stack: Stack) => {
    const key = stack.key();
    return async (method: string, pathname: string, body?: unknown) => {
      const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return {
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
      };
    };
  };

  const helloSpec = async () =>
    JSON.parse(
      (await readFile(path.join(root, 'examples/hello/run.json'), 'utf8')).replaceAll(
        '{{examples}}',
        await stacks[0]!.examples(),
      ),
    ) as unknown;

  /** Submits the hello pipeline and waits for its end. */
  const runHello = async (api: ReturnType<typeof client>) => {
    const submitted = await api('POST', '/api/v1/runs', await helloSpec());
    expect(submitted.status).toBe(202);
    const runId = submitted.body['id'] as string;
    const done = await eventually('the example run to end', async () => {
      const run = await api('GET', `/api/v1/runs/${runId}`);
      return TERMINAL.includes(run.body['status'] as string) ? run.body : undefined;
    });
    return { runId, status: done['status'] };
  };

  it('starts everything, runs the example pipeline, and resumes with the same data', async () => {
    const home = await newHome();
    // Port 0 everywhere: every port is bound by the process that serves it, and reported.
    const start = () => startStack({ root, home, gatewayPort: 0 });
    let stack = await start();
    stacks.push(stack);

    const keyFile = await stat(stack.keyFile);
    expect(keyFile.mode & 0o777).toBe(0o600);
    const key = stack.key();
    const { runId, status } = await runHello(client(stack));
    expect(status).toBe('succeeded');
    for (const service of [
      'gateway',
      'scheduler',
      'executor',
      'provenance',
      'provisioner',
      'catalog',
    ]) {
      expect((await stat(path.join(stack.logDir, `${service}.log`))).size).toBeGreaterThan(0);
    }
    // Where everything listens, for tools and people.
    const file = JSON.parse(await readFile(path.join(home, 'stack.json'), 'utf8')) as {
      gatewayUrl: string;
      grpcAddress: string;
      services: { name: string; url: string; pid: number }[];
    };
    expect(file.gatewayUrl).toBe(stack.gatewayUrl);
    expect(file.grpcAddress).toBe(stack.grpcAddress);
    // The built gateway found its .proto files: its gRPC API answers there.
    const health = protoLoader.loadSync(healthProtoPath, { enums: String })[
      'grpc.health.v1.Health'
    ];
    const check = health !== undefined && !('format' in health) ? health['Check'] : undefined;
    const rpc = new grpc.Client(stack.grpcAddress, grpc.credentials.createInsecure());
    const serving = await new Promise<unknown>((resolve, reject) =>
      rpc.makeUnaryRequest(
        check!.path,
        check!.requestSerialize,
        check!.responseDeserialize,
        { service: 'acai.v1.Runs' },
        (error, answer) => (error ? reject(error) : resolve(answer)),
      ),
    );
    rpc.close();
    expect(serving).toEqual({ status: 'SERVING' });
    expect(file.services.map((s) => s.name).sort()).toEqual(
      ['catalog', 'executor', 'gateway', 'provenance', 'provisioner', 'scheduler'].sort(),
    );
    for (const s of file.services) {
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    }

    await stack.stop();
    stacks.pop();
    stack = await start();
    stacks.push(stack);
    expect(stack.key()).toBe(key);
    const again = await client(stack)('GET', `/api/v1/runs/${runId}`);
    expect(again.status).toBe(200);
    expect(again.body['status']).toBe('succeeded');
  });

  it('restarts a service that dies, and the system goes on working', async () => {
    const stack = stacks[0]!;
    const api = client(stack);
    const before = stack.pid('scheduler')!;
    process.kill(before, 'SIGKILL');
    const restarted = await eventually('the scheduler to be restarted', () => {
      const scheduler = stack.services().find((s) => s.name === 'scheduler');
      return scheduler?.url !== undefined && scheduler.pid !== before ? scheduler : undefined;
    });
    expect(restarted.restarts).toBe(1);
    expect((await fetch(`${restarted.url}/readyz`)).status).toBe(200);
    expect((await runHello(api)).status).toBe('succeeded');
  });

  it('restarts its own nats-server and Postgres when they die, on their ports with their data', async () => {
    const stack = stacks[0]!;
    const api = client(stack);
    const { runId } = await runHello(api);
    for (const server of ['nats-server', 'postgres']) {
      const before = stack.pid(server)!;
      expect(before).toBeDefined();
      process.kill(before, 'SIGKILL');
      await eventually(`${server} to be restarted`, () => {
        const now = stack.pid(server);
        return now !== undefined && now !== before ? now : undefined;
      });
    }
    // The same URLs (the services reconnect to them), the same data, and work goes on.
    const earlier = await eventually(
      'the earlier run to be read again',
      async () => {
        const answer = await api('GET', `/api/v1/runs/${runId}`);
        return answer.status === 200 ? answer : undefined;
      },
      60_000,
    );
    expect(earlier.body['status']).toBe('succeeded');
    expect((await runHello(api)).status).toBe('succeeded');
    const file = JSON.parse(
      await readFile(path.join(stack.logDir, '..', 'stack.json'), 'utf8'),
    ) as {
      infrastructure: Record<string, number>;
    };
    expect(file.infrastructure['nats-server']).toBe(stack.pid('nats-server'));
    expect(file.infrastructure['postgres']).toBe(stack.pid('postgres'));
  });

  it('starts a second stack beside the first: nothing collides, the taken gateway port is replaced', async () => {
    const first = stacks[0]!;
    const taken = Number(new URL(first.gatewayUrl).port);
    const lines: string[] = [];
    const second = await startStack({
      root,
      home: await newHome(),
      gatewayPort: taken,
      gatewayPortFallback: true,
      say: (line) => lines.push(line),
    });
    stacks.push(second);
    expect(second.gatewayUrl).not.toBe(first.gatewayUrl);
    expect(lines.join('\n')).toContain(`port ${taken} is taken`);
    expect((await runHello(client(second))).status).toBe('succeeded');
    // The first is untouched.
    expect((await client(first)('GET', '/api/v1/runs')).status).toBe(200);
  });

  it('stops in order on Ctrl-C, and leaves nothing running when it is killed outright', async () => {
    /** The pids of what the launcher started, once it is up (it builds first: a safety net of 2 min). */
    const processes = async (home: string, output: string[]) => {
      const file = await eventually(
        'the stack to be up',
        async () => {
          try {
            return JSON.parse(await readFile(path.join(home, 'stack.json'), 'utf8')) as {
              launcherPid: number;
              infrastructure: Record<string, number>;
              services: { name: string; pid: number }[];
            };
          } catch {
            return undefined;
          }
        },
        120_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\nthe launcher said:\n${output.join('')}`);
      });
      return [...Object.values(file.infrastructure), ...file.services.map((s) => s.pid)];
    };
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const launch = (home: string) => {
      const output: string[] = [];
      const child = spawn(process.execPath, [path.join(root, 'scripts', 'up.mjs')], {
        cwd: root,
        env: {
          ...process.env,
          // Its own nats-server and Postgres, as on a fresh machine (npm test sets these).
          NATS_URL: '',
          DATABASE_URL: '',
          ACAI_HOME: home,
          ACAI_PORT: '0',
          ACAI_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      launched.push(child);
      child.stdout.on('data', (c: Buffer) => output.push(c.toString()));
      child.stderr.on('data', (c: Buffer) => output.push(c.toString()));
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code) => resolve(code)),
      );
      return { child, output, exited };
    };

    // Ctrl-C: services, then Postgres, then nats-server, and it says so.
    const calm = await newHome();
    const first = launch(calm);
    const pids = await processes(calm, first.output);
    expect(pids.length).toBe(8);
    // Once up, it says where each way in is, and the key to sign in with.
    const said = await eventually('the launcher to say it is running', () => {
      const text = first.output.join('');
      return text.includes('running; press Ctrl-C') ? text : undefined;
    });
    const up = JSON.parse(await readFile(path.join(calm, 'stack.json'), 'utf8')) as {
      gatewayUrl: string;
      grpcAddress: string;
    };
    const url = up.gatewayUrl;
    const devKey = (await readFile(path.join(calm, 'default.key'), 'utf8')).trim();
    const lines = said.split('\n');
    const line = (label: string) => lines.find((l) => l.startsWith(`[acai]   ${label}`)) ?? '';
    expect(line('REST API:')).toContain(`${url}/api/v1 `);
    expect(line('REST API:')).toContain(`OpenAPI: ${url}/api/openapi.json`);
    expect(line('dashboard:')).toContain(`${url}/ `);
    expect(line('gRPC:')).toContain(up.grpcAddress);
    expect(line('events:')).toContain(`${url}/api/v1/events`);
    expect(line('key:')).toContain(devKey);
    // Each URL it names answers (the dashboard's page, the OpenAPI document), without a key.
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect((await fetch(`${url}/api/openapi.json`)).status).toBe(200);
    // The key it shows signs in.
    const signedIn = await fetch(`${url}/api/v1/runs`, {
      headers: { authorization: `Bearer ${devKey}` },
    });
    expect(signedIn.status).toBe(200);
    // No other secret: nothing that looks like a password or another key.
    expect(said).not.toMatch(/password|ACAI_SECRETS_KEY/i);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output.join('')).toContain('stopped. Data is kept in');
    expect(pids.filter(alive)).toEqual([]);

    // SIGKILL: no chance to stop anything, yet nothing it started outlives it.
    const rough = await newHome();
    const second = launch(rough);
    const orphans = await processes(rough, second.output);
    second.child.kill('SIGKILL');
    await second.exited;
    await eventually('everything the launcher started to end', () =>
      orphans.some(alive) ? undefined : true,
    );
  }, 300_000);
});
