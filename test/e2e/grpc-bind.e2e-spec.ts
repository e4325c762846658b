import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

const gatewayMain = path.resolve(import.meta.dirname, '../../apps/gateway/dist/main.js');

/** The built gateway as its own process, to its exit: its code and everything it printed. */
function runGateway(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [gatewayMain], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // A gateway that started after all is stopped: the test then fails on its exit code.
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the gateway’s gRPC port', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('taken: one line saying so and what to set, no grpc-js noise, and a non-zero exit', async () => {
    const taken = system.grpcAddress; // the running gateway's
    const port = taken.split(':').at(-1)!;
    const { code, output } = await runGateway({
      ...system.env,
      ACAI_DB_SCHEMA: `gateway_${system.tag}`,
      ACAI_GRPC_PORT: port,
    });
    expect(code).toBe(1);
    expect(output).toBe(
      `gateway could not start: cannot serve gRPC on ${taken}: the port is taken (EADDRINUSE); is another gateway there? Set ACAI_GRPC_PORT to a free port (0: any)\n`,
    );
    expect(output).not.toContain('No address added');
  });
});
