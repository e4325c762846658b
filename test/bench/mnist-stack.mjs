// @ts-check
// What the benchmarks that run the MNIST example share: a whole stack in a fresh ACAI_HOME, the
// MNIST data imported, the example's spec, and runs submitted and awaited from their end events on
// the bus (timestamped here, so a run's wall time does not wait for a read model).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { startStack } from '../../libs/devstack/dist/index.js';
import { request, round } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */

const END_TYPES = new Set(['run.succeeded', 'run.failed', 'run.cancelled']);

/**
 * Runs a program to its end; resolves with its output, rejects with it on a non-zero exit.
 * @param {string} command
 * @param {string[]} args
 * @param {Record<string, string>} env
 * @returns {Promise<string>}
 */
export function runProgram(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(output))));
  });
}

/**
 * Starts the stack (unsupervised: a crash fails the benchmark), watches every run event, and
 * imports MNIST. `close()` stops it all.
 * @param {BenchContext} ctx
 * @param {string} name  the benchmark's name, for its temporary folder and NATS connection
 * @param {Record<string, string>} [env]  settings for the services
 */
export async function startMnistStack(ctx, name, env = {}) {
  const home = mkdtempSync(path.join(os.tmpdir(), `acai-bench-${name}-`));
  // mkdtemp makes it 0700; as root, embedded Postgres runs initdb as user `postgres`, which must
  // be able to reach its data folder inside.
  chmodSync(home, 0o755);
  ctx.say(
    `starting the stack in ${home} (load average ${os
      .loadavg()
      .map((x) => round(x, 2))
      .join(', ')})`,
  );
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    supervise: false,
    env: { ACAI_LOG_LEVEL: process.env['ACAI_LOG_LEVEL'] ?? 'info', ...env },
    nodeArgs: (process.env['ACAI_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    say: (line) => ctx.say(`  ${line}`),
  });
  /** @type {{ died: string | undefined }} */
  const state = { died: undefined };
  void stack.died.then((service) => (state.died = service));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const client = { gatewayUrl: stack.gatewayUrl, key: stack.key(), agent };
  /**
   * A call through the gateway with the `default` project's admin key, or `key` (another project's).
   * @param {'GET' | 'POST' | 'PUT'} method @param {string} pathname @param {unknown} [body] @param {string} [key]
   */
  const api = async (method, pathname, body, key) => {
    const response = await request(
      key === undefined ? client : { ...client, key },
      method,
      pathname,
      body,
    );
    if (response.status >= 300)
      throw new Error(`${method} ${pathname}: ${response.status} ${response.text}`);
    return JSON.parse(response.text);
  };
  const nc = await connect({ ...stack.natsOperator, name: `bench-${name}` });
  /** @type {Map<string, Map<string, number>>} run id -> event type -> performance.now() */
  const seen = new Map();
  /** @type {(() => void) | undefined} */
  let onEvent;
  nc.subscribe('acai.evt.*.run.*', {
    callback: (error, msg) => {
      if (error) return;
      const type = msg.headers?.get('Acai-Type') ?? '';
      const runId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
      const events = seen.get(runId) ?? new Map();
      if (!events.has(type)) events.set(type, performance.now());
      seen.set(runId, events);
      onEvent?.();
    },
  });
  await nc.flush();
  ctx.say('importing MNIST (examples/mnist/import.mjs)');
  await runProgram(process.execPath, [path.join(ctx.root, 'examples/mnist/import.mjs')], {
    ACAI_URL: stack.gatewayUrl,
    ACAI_KEY: client.key,
  });
  const examples = await stack.examples();

  return {
    home,
    stack,
    api,
    /** The service that died, if one did. */
    died: () => state.died,
    /**
     * An example's spec (`examples/mnist/<file>`), with its paths filled in.
     * @param {string} file
     */
    spec: (file) =>
      JSON.parse(
        readFileSync(path.join(ctx.root, 'examples/mnist', file), 'utf8').replaceAll(
          '{{examples}}',
          examples,
        ),
      ),
    /**
     * Submits a spec (in `default`, or in the project of `key`) and waits for its run's end event
     * (at most `timeoutMs`).
     * @param {unknown} spec
     * @param {number} timeoutMs
     * @param {string} [key]
     */
    async submitAndWait(spec, timeoutMs, key) {
      const submittedAtMs = Date.now();
      const submittedAt = performance.now();
      const submitted = await api('POST', '/api/v1/runs', spec, key);
      const id = /** @type {string} */ (submitted.id);
      const ended = () => [...(seen.get(id)?.keys() ?? [])].find((t) => END_TYPES.has(t));
      const deadline = submittedAt + timeoutMs;
      while (ended() === undefined && state.died === undefined && performance.now() < deadline) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          onEvent = () => {
            clearTimeout(timer);
            resolve(undefined);
          };
        });
      }
      onEvent = undefined;
      const endType = ended();
      return {
        id,
        submittedAtMs,
        submittedAt,
        endType: endType ?? null,
        endedAt: endType === undefined ? null : (seen.get(id)?.get(endType) ?? null),
        events: seen.get(id) ?? new Map(),
      };
    },
    natsVersion: () => nc.info?.version ?? 'unknown',
    async close() {
      await nc.close().catch(() => undefined);
      agent.destroy();
      ctx.say('stopping the stack');
      await stack.stop();
    },
  };
}
