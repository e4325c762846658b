import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobView } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startExecutorProcess, startSystem, type TestSystem } from '../support/system.js';

/**
 * A TCP proxy to nats-server that the test can cut and restore: the executor behind it loses its
 * connection (and every core NATS message sent meanwhile) while the rest of the system goes on.
 */
async function natsProxy(target: URL): Promise<{
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const make = () =>
    net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
  let server = make();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    cut: stop,
    async restore() {
      server = make();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close: stop,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a cancel sent while the executor is disconnected', () => {
  let system: TestSystem;
  let executor: ChildProcess | undefined;
  let proxy: Awaited<ReturnType<typeof natsProxy>>;

  beforeAll(async () => {
    system = await startSystem({ without: ['executor'] });
    proxy = await natsProxy(new URL(system.env['NATS_URL']!));
  });

  afterAll(async () => {
    executor?.kill('SIGKILL');
    await proxy?.close();
    await system?.close();
  });

  it('still stops the job: the executor checks its jobs against the log when it reconnects', async () => {
    executor = startExecutorProcess(system, 'node-behind-proxy', {
      NATS_URL: proxy.url,
      // Only the reconnect can find the cancel in time: the periodic check is far off.
      ACAI_JOB_RECHECK_MS: '600000',
    });
    const pidFile = path.join(system.shared, 'cancel-me.pid');
    const submitted = await system.api('POST', '/api/v1/runs', {
      name: 'long',
      steps: [
        {
          name: 'loop',
          command: ['sh', '-c', 'echo $$ > "$PID_FILE"; while true; do sleep 0.2; done'],
          env: { PID_FILE: pidFile },
        },
      ],
    });
    expect(submitted.status).toBe(202);
    const { id: runId, jobs } = submitted.body as { id: string; jobs: { id: string }[] };
    const jobId = jobs[0]!.id;
    const pid = await eventually('the job to write its pid', async () => {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      return /^\d+\n$/.test(text) ? Number(text) : undefined;
    });
    expect(alive(pid)).toBe(true);

    await proxy.cut();
    const cancelled = await system.api('POST', `/api/v1/runs/${runId}/cancel`);
    expect(cancelled.status).toBe(202);
    await eventually('the job to be recorded cancelled', async () => {
      const job = (await system.api('GET', `/api/v1/jobs/${jobId}`)).body as JobView;
      return job.status === 'cancelled' ? job : undefined;
    });
    // The cancel control went out while the executor was cut off: it never heard it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(alive(pid)).toBe(true);

    await proxy.restore();
    await eventually('the job process to be stopped after the executor reconnects', () =>
      alive(pid) ? undefined : true,
    );
    const run = await system.waitForRun(runId);
    expect(run.status).toBe('cancelled');
  });
});
