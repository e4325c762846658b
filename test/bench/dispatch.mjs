// @ts-check
// The `dispatch` benchmark: N no-op runs (one step, `["true"]`) submitted through the gateway's REST
// API and run to their end, timed by the run's final event on the bus; then, as the floor, a raw
// JetStream publish -> pull consume -> ack round trip of the same count on the same nats-server.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { startStack } from '../../libs/devstack/dist/index.js';
import {
  countLogLines,
  cpuSnapshot,
  cpuUse,
  request,
  round as roundTo,
  stats as statsOf,
} from './lib.mjs';

/** @param {number[]} values */
const stats = (values) => statsOf(values, 1);

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

const DEFAULT_N = 2_000;
const WARMUP = 50;
/** Runs submitted at once through the gateway. */
const SUBMIT_CONCURRENCY = 64;
/** Messages published to JetStream before waiting for their acks, in the baseline. */
const PUBLISH_IN_FLIGHT = 256;
/** Messages the baseline's pull consumer asks for at a time. */
const PULL_BATCH = 256;
/** Figures measured earlier on a machine of this kind (2 cores), for reference: not part of this run. */
const FLOORS = {
  spawnTrueConcurrency4PerSec: 520,
  rawJetStreamPipelinedRoundTripPerSec: 7_000,
  bullmqPerSec: 9_000,
};
const RUN_SPEC = { name: 'noop', steps: [{ name: 'noop', command: ['true'] }] };
const END_TYPES = new Set(['run.succeeded', 'run.failed', 'run.cancelled']);
/** Once everything is submitted, give up when no run has ended for this long. */
const STALL_MS = 20_000;
/** Processes of `true` spawned at once for the spawn floor (as the floor measured earlier). */
const SPAWN_CONCURRENCY = 4;
/** Runs (and baseline messages) sent one at a time, each after the previous ended: latency with no queue. */
const UNLOADED_N = 50;

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const n = ctx.n ?? DEFAULT_N;
  const { say } = ctx;
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-dispatch-'));
  // mkdtemp makes it 0700; as root, embedded Postgres runs initdb as user `postgres`, which must
  // be able to reach its data folder inside.
  chmodSync(home, 0o755);
  say(`starting the stack in ${home}`);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    // A crash fails the benchmark rather than being restarted away.
    supervise: false,
    env: {
      ACAI_LOG_LEVEL: process.env['ACAI_LOG_LEVEL'] ?? 'info',
    },
    // To profile the services: ACAI_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
    nodeArgs: (process.env['ACAI_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    say: (line) => say(`  ${line}`),
  });
  let ok = false;
  /** @type {Awaited<ReturnType<typeof connect>> | undefined} */
  let nc;
  const agent = new http.Agent({ keepAlive: true, maxSockets: SUBMIT_CONCURRENCY });
  try {
    let died = /** @type {string | undefined} */ (undefined);
    void stack.died.then((name) => (died = name));
    nc = await connect({ ...stack.natsOperator, name: 'bench-dispatch' });
    /** @type {Client} */
    const client = { gatewayUrl: stack.gatewayUrl, key: stack.key(), agent };

    // Every run's end, wherever it arrives: the end event may overtake the 202 of its POST.
    /** @type {Map<string, { at: number; type: string }>} */
    const ends = new Map();
    /** @type {((runId: string) => void) | undefined} */
    let onEnd;
    const sub = nc.subscribe('acai.evt.default.run.*', {
      callback: (error, msg) => {
        if (error) return;
        const type = msg.headers?.get('Acai-Type') ?? '';
        if (!END_TYPES.has(type)) return;
        const runId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        if (ends.has(runId)) return;
        ends.set(runId, { at: performance.now(), type });
        onEnd?.(runId);
      },
    });
    await nc.flush();

    const timeoutMs = Math.max(120_000, n * 100);
    /** @type {string[]} */
    const problems = [];
    say(`warm-up: ${WARMUP} runs (not counted)`);
    const warm = await submitAndWait(client, WARMUP, ends, (f) => (onEnd = f), {
      timeoutMs: Math.max(60_000, WARMUP * 1_000),
      died: () => died,
      concurrency: SUBMIT_CONCURRENCY,
    });
    if (warm.finished < WARMUP || warm.submitErrors.length > 0 || warm.failed > 0) {
      problems.push(`warm-up: ${describeRound(warm, WARMUP)}`);
      say(`PROBLEM in warm-up: ${describeRound(warm, WARMUP)}`);
    }
    say(`measuring: ${n} runs, ${SUBMIT_CONCURRENCY} submissions in flight`);
    // CPU use of every process, sampled each second: the window ends at the first sample after the
    // last run ended, not when the wait for stragglers gave up.
    const cpuSamples = [cpuSnapshot(home)];
    const sampler = setInterval(() => cpuSamples.push(cpuSnapshot(home)), 1_000);
    let round;
    try {
      round = await submitAndWait(client, n, ends, (f) => (onEnd = f), {
        timeoutMs,
        died: () => died,
        concurrency: SUBMIT_CONCURRENCY,
      });
    } finally {
      clearInterval(sampler);
    }
    cpuSamples.push(cpuSnapshot(home));
    const lastEnd = round.lastEnd;
    const cpu = cpuUse(
      /** @type {import('./lib.mjs').CpuSnapshot} */ (cpuSamples[0]),
      /** @type {import('./lib.mjs').CpuSnapshot} */ (
        cpuSamples.find((c) => c.at >= lastEnd) ?? cpuSamples.at(-1)
      ),
    );
    const acai = summarise(round, n);
    say(`acai: ${describeRound(round, n)}`);

    say(`unloaded: ${UNLOADED_N} runs one at a time`);
    const single = await submitAndWait(client, UNLOADED_N, ends, (f) => (onEnd = f), {
      timeoutMs: Math.max(60_000, UNLOADED_N * 2_000),
      died: () => died,
      concurrency: 1,
      oneAtATime: true,
    });
    sub.unsubscribe();
    const acaiUnloaded = summarise(single, UNLOADED_N);
    say(`acai unloaded: ${describeRound(single, UNLOADED_N)}`);
    const stuck = await describeStuck(client, [...warm.stuck, ...round.stuck, ...single.stuck]);

    say(`baseline: raw JetStream round trip of ${n} messages on the same nats-server`);
    const baseline = await rawJetStream(nc, n, PUBLISH_IN_FLIGHT);
    const baselineUnloaded = await rawJetStream(nc, UNLOADED_N, 1);
    say(`floor: spawning \`true\` ${n} times from this process, ${SPAWN_CONCURRENCY} at a time`);
    const spawnTrue = await spawnFloor(n, SPAWN_CONCURRENCY);
    say(
      `floor: \`true\` through the executor's sandboxed launch ${n} times, ${SPAWN_CONCURRENCY} at a time`,
    );
    const sandboxedTrue = await sandboxedFloor(n, SPAWN_CONCURRENCY, home);

    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const logWarnings = countLogLines(stack.logDir, /"level":("warn"|40)\b/);
    if (round.timedOut) {
      problems.push(
        `gave up waiting (${round.stalled ? `no run ended for ${STALL_MS / 1000} s` : `timeout ${timeoutMs / 1000} s`}) ` +
          `with ${round.finished} of ${n} runs finished, ${round.stuck.length} never ended`,
      );
    }
    if (round.submitErrors.length > 0) {
      problems.push(
        `${round.submitErrors.length} submissions failed, first: ${round.submitErrors[0]}`,
      );
    }
    if (round.failed > 0) {
      problems.push(
        `${round.failed} runs ended failed/cancelled (${JSON.stringify(round.endTypes)})`,
      );
    }
    if (single.timedOut || single.failed > 0 || single.submitErrors.length > 0) {
      problems.push(`unloaded: ${describeRound(single, UNLOADED_N)}`);
    }
    if (stuck.length > 0) {
      problems.push(
        `${warm.stuck.length + round.stuck.length + single.stuck.length} runs never ended; e.g. ${stuck
          .slice(0, 3)
          .map((r) => `${r.id}: ${r.status} [${r.jobs}]`)
          .join('; ')}`,
      );
    }
    if (died !== undefined) problems.push(`a service died: ${died}`);
    const errorCount = Object.values(logErrors).reduce((a, b) => a + b, 0);
    if (errorCount > 0) {
      problems.push(
        `service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)} (see ${stack.logDir})`,
      );
    }
    for (const [b, count] of /** @type {const} */ ([
      [baseline, n],
      [baselineUnloaded, UNLOADED_N],
    ])) {
      if (b.consumed < count || b.leftInStreamAfterAcks !== 0) {
        problems.push(
          `baseline (${b.publishInFlight} in flight): ${b.consumed}/${count} consumed, ${b.leftInStreamAfterAcks} left in the stream`,
        );
      }
    }

    printTable(say, n, acai, baseline, acaiUnloaded, baselineUnloaded, spawnTrue, sandboxedTrue);
    say(
      `  CPU while measuring (${cpu.wallSec} s wall, ${cpu.machineBusyPct}% of ${os.cpus().length} CPUs busy): ` +
        Object.entries(cpu.cpuSecByProcess)
          .map(([name, sec]) => `${name} ${sec} s`)
          .join(', '),
    );
    // The jobs are reaped by the executor's spawner (by the executor itself before it had one).
    const jobProcesses =
      (cpu.reapedSecByProcess['executor'] ?? 0) + (cpu.reapedSecByProcess['executor spawner'] ?? 0);
    if (jobProcesses > 0) {
      const own = (/** @type {string} */ name) =>
        Math.round(((cpu.cpuSecByProcess[name] ?? 0) - (cpu.reapedSecByProcess[name] ?? 0)) * 100) /
        100;
      say(
        `  of the executor's: its job processes (the launch's programs and \`true\`) ${Math.round(jobProcesses * 100) / 100} s, ` +
          `its spawner ${own('executor spawner')} s, itself ${own('executor')} s`,
      );
    }
    if (cpu.otherBusySec > cpu.wallSec * 0.25) {
      say(
        `  NOTE: ${cpu.otherBusySec} CPU-s went to processes outside this stack: the figures are noisy`,
      );
    }
    for (const p of problems) say(`PROBLEM: ${p}`);

    const file = ctx.writeResult('dispatch', {
      benchmark: 'dispatch',
      date: new Date().toISOString(),
      machine: {
        ...ctx.machine(),
        natsServer: nc.info?.version ?? 'unknown',
        loadAverageAtEnd: os.loadavg().map(round1),
      },
      n,
      acai: {
        ...acai,
        spec: RUN_SPEC,
        warmupRuns: WARMUP,
        submitConcurrency: SUBMIT_CONCURRENCY,
        warmup: summarise(warm, WARMUP),
        unloaded: acaiUnloaded,
        neverEndedRuns: stuck,
        cpuDuringMeasurement: cpu,
        serviceLogErrorLines: logErrors,
        serviceLogWarnLines: logWarnings,
      },
      baseline: { ...baseline, unloaded: baselineUnloaded },
      spawnTrue,
      sandboxedTrue,
      floors: FLOORS,
      notes: [
        'acai: every run is POST /api/v1/runs with one step ["true"]; submit->finished is from just before the POST to the arrival of the run.succeeded/run.failed event (core NATS subscription to acai.evt.default.run.*, Acai-Type header) in this process.',
        'acai jobsPerSec = n / (last run end - first submit); submitted with bounded concurrency; the executor runs ACAI_EXECUTOR_SLOTS jobs at once (default: CPUs).',
        `baseline: work-queue stream on file storage, durable pull consumer (explicit ack), ${PUBLISH_IN_FLIGHT} publishes in flight, consume batch ${PULL_BATCH}; latency is publish call -> message in the consumer loop; msgsPerSec = n / (last consumed - first publish).`,
        `unloaded: ${UNLOADED_N} runs (messages) one at a time, each sent after the previous one ended (was consumed): the latency with no queue in front of it.`,
        `spawnTrue: \`true\` spawned from this process (no sandbox, no cgroups) n times, ${SPAWN_CONCURRENCY} at a time, while the stack idles: perSec = n / elapsed; the issue's goal is half of it.`,
        `sandboxedTrue: \`true\` launched as the executor launches a job in the uid sandbox (the executor's own Sandbox: unshare, the private mounts, setpriv to a slot user, the environment from fd 3), n times, ${SPAWN_CONCURRENCY} at a time, from this process while the stack idles, without joining cgroups; childCpuMsPerLaunch is the CPU of the launch's programs (this process's reaped children). Null when not root (no uid sandbox).`,
        'floors (measured earlier on a machine of this kind, not in this run): spawning `true` from Node ~520/s at concurrency 4; pipelined raw JetStream job round trip ~7,000/s.',
        ...problems.map((p) => `PROBLEM: ${p}`),
      ],
    });
    ok = problems.length === 0;
    return { ok, file };
  } finally {
    agent.destroy();
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    say('stopping the stack');
    await stack.stop();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`state and logs kept in ${home}`);
  }
}

/**
 * @typedef {object} Round
 * @property {number} firstSubmit
 * @property {number} lastEnd
 * @property {number[]} latencies       submit -> end, ms, of every run that ended
 * @property {number[]} acceptLatencies POST -> 202, ms
 * @property {number} finished
 * @property {number} failed
 * @property {Record<string, number>} endTypes
 * @property {string[]} submitErrors
 * @property {boolean} timedOut         gave up waiting: timeout, stall or a dead service
 * @property {boolean} stalled          gave up because no run ended for STALL_MS
 * @property {string[]} stuck           accepted runs that never ended
 */

/**
 * Submits `count` runs with bounded concurrency and waits until every accepted one has ended, the
 * deadline passes, a service dies, or no run has ended for STALL_MS after the last submission.
 * With `oneAtATime`, each worker waits for its run to end before it submits the next.
 * @param {Client} client
 * @param {number} count
 * @param {Map<string, { at: number; type: string }>} ends
 * @param {(notify: (runId: string) => void) => void} setOnEnd
 * @param {{ timeoutMs: number; died: () => string | undefined; concurrency: number; oneAtATime?: boolean }} options
 * @returns {Promise<Round>}
 */
async function submitAndWait(
  client,
  count,
  ends,
  setOnEnd,
  { timeoutMs, died, concurrency, oneAtATime = false },
) {
  /** @type {Map<string, number>} */
  const submitted = new Map();
  /** @type {number[]} */
  const acceptLatencies = [];
  /** @type {string[]} */
  const submitErrors = [];
  const deadline = performance.now() + timeoutMs;
  const firstSubmit = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline && died() === undefined) {
      next++;
      const t0 = performance.now();
      try {
        const response = await request(client, 'POST', '/api/v1/runs', RUN_SPEC);
        if (response.status !== 202) {
          submitErrors.push(`HTTP ${response.status}: ${response.text.slice(0, 300)}`);
          continue;
        }
        const id = /** @type {{ id: string }} */ (JSON.parse(response.text)).id;
        submitted.set(id, t0);
        acceptLatencies.push(performance.now() - t0);
        if (oneAtATime) {
          const giveUp = Math.min(deadline, performance.now() + STALL_MS);
          while (!ends.has(id) && performance.now() < giveUp && died() === undefined) {
            await new Promise((r) => setTimeout(r, 1));
          }
        }
      } catch (error) {
        submitErrors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));

  const pending = new Set([...submitted.keys()].filter((id) => !ends.has(id)));
  let timedOut = submitted.size + submitErrors.length < count;
  let stalled = false;
  if (pending.size > 0 && !timedOut) {
    let lastProgress = performance.now();
    /** @type {'done' | 'timeout' | 'stalled' | 'died'} */
    const why = await new Promise((resolve) => {
      const check = setInterval(() => {
        const now = performance.now();
        if (died() !== undefined) finish('died');
        else if (now > deadline) finish('timeout');
        else if (now - lastProgress > STALL_MS) finish('stalled');
      }, 250);
      /** @param {'done' | 'timeout' | 'stalled' | 'died'} value */
      function finish(value) {
        clearInterval(check);
        setOnEnd(() => undefined);
        resolve(value);
      }
      setOnEnd((runId) => {
        if (pending.delete(runId)) lastProgress = performance.now();
        if (pending.size === 0) finish('done');
      });
    });
    timedOut = why !== 'done';
    stalled = why === 'stalled';
  }

  /** @type {number[]} */
  const latencies = [];
  /** @type {Record<string, number>} */
  const endTypes = {};
  /** @type {string[]} */
  const stuck = [];
  let failed = 0;
  let lastEnd = firstSubmit;
  for (const [id, t0] of submitted) {
    const end = ends.get(id);
    if (end === undefined) {
      stuck.push(id);
      continue;
    }
    latencies.push(end.at - t0);
    endTypes[end.type] = (endTypes[end.type] ?? 0) + 1;
    if (end.type !== 'run.succeeded') failed++;
    if (end.at > lastEnd) lastEnd = end.at;
  }
  return {
    firstSubmit,
    lastEnd,
    latencies,
    acceptLatencies,
    finished: latencies.length,
    failed,
    endTypes,
    submitErrors,
    timedOut,
    stalled,
    stuck,
  };
}

/**
 * What the gateway says about runs that never ended (the first few), for the report.
 * @param {Client} client
 * @param {string[]} ids
 */
async function describeStuck(client, ids) {
  const described = [];
  for (const id of ids.slice(0, 10)) {
    try {
      const response = await request(client, 'GET', `/api/v1/runs/${id}`);
      const view = /** @type {{ status: string; jobs: { id: string; status: string }[] }} */ (
        JSON.parse(response.text)
      );
      described.push({
        id,
        status: view.status,
        jobs: view.jobs.map((j) => `${j.id}=${j.status}`).join(', '),
      });
    } catch (error) {
      described.push({ id, status: 'unknown', jobs: String(error) });
    }
  }
  return described;
}

/**
 * @param {Round} round
 * @param {number} n
 */
function summarise(round, n) {
  const elapsedMs = round.lastEnd - round.firstSubmit;
  return {
    submitted: round.acceptLatencies.length,
    finished: round.finished,
    succeeded: round.endTypes['run.succeeded'] ?? 0,
    failed: round.failed,
    endTypes: round.endTypes,
    submitErrors: round.submitErrors.length,
    firstSubmitErrors: round.submitErrors.slice(0, 5),
    neverEnded: round.stuck.length,
    timedOut: round.timedOut,
    elapsedMs: round1(elapsedMs),
    jobsPerSec: round1((round.finished === n ? n : round.finished) / (elapsedMs / 1000)),
    latencyMs: stats(round.latencies),
    acceptLatencyMs: stats(round.acceptLatencies),
  };
}

/** @param {Round} round @param {number} n */
function describeRound(round, n) {
  const s = stats(round.latencies);
  return (
    `${round.finished}/${n} ended (${JSON.stringify(round.endTypes)}), ${round.submitErrors.length} submit errors` +
    `${round.timedOut ? ', TIMED OUT' : ''}; submit->end p50 ${s.p50} ms, p99 ${s.p99} ms`
  );
}

/**
 * The other floor: `true` spawned from this process `count` times, `concurrency` at a time, as
 * an executor with that many slots would with no sandbox, no limits and no events.
 * @param {number} count
 * @param {number} concurrency
 */
async function spawnFloor(count, concurrency) {
  let next = 0;
  let failed = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const code = await new Promise((resolve) => {
        const child = spawn('true', [], { stdio: 'ignore' });
        child.once('error', () => resolve(-1));
        child.once('close', (c) => resolve(c));
      });
      if (code !== 0) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedMs = performance.now() - start;
  return {
    count,
    concurrency,
    failed,
    elapsedMs: round1(elapsedMs),
    perSec: round1(count / (elapsedMs / 1000)),
  };
}

/**
 * The other floor with the walls a job has: `true` launched `count` times, `concurrency` at a time,
 * exactly as the executor launches a job in the uid sandbox (its own `Sandbox`: a private mount
 * namespace with the private /tmp, /var/tmp and /dev/shm, the slot's user with no-new-privs and the
 * parent-death signal, the environment handed over on fd 3), but without joining cgroups; then 50
 * one at a time. Null when not root (no uid sandbox). The slot users are the executor's default
 * ones (made by the stack's executor already), claimed in a folder of the bench's own.
 * @param {number} count
 * @param {number} concurrency
 * @param {string} home
 */
async function sandboxedFloor(count, concurrency, home) {
  if (process.getuid?.() !== 0) return null;
  const { Sandbox, envFileText, ENV_FILE, TMP_FOLDER } =
    await import('../../apps/executor/dist/jobs/sandbox.js');
  const { executorConfig } = await import('../../apps/executor/dist/config.js');
  const sandbox = await Sandbox.open({
    requested: 'uid',
    slots: concurrency,
    slotName: (/** @type {number} */ i) => `bench-${i}`,
    // The executor's own (its default, or ACAI_SANDBOX_UID_BASE as the stack's executor reads it).
    uidBase: executorConfig.ACAI_SANDBOX_UID_BASE.schema.parse(
      process.env['ACAI_SANDBOX_UID_BASE'],
    ),
    claimsDir: path.join(home, 'bench-slots'),
  });
  /** @param {import('../../apps/executor/dist/jobs/sandbox.js').Slot} slot */
  const launchOnce = async (slot) => {
    const user = /** @type {{ uid: number; gid: number }} */ (slot.user);
    const folder = path.join(home, 'bench-launch', slot.name);
    mkdirSync(path.join(folder, TMP_FOLDER), { recursive: true });
    chownSync(folder, user.uid, user.gid);
    chownSync(path.join(folder, TMP_FOLDER), user.uid, user.gid);
    const envFile = path.join(folder, ENV_FILE);
    writeFileSync(envFile, envFileText({ HOME: folder }), { mode: 0o600 });
    chownSync(envFile, user.uid, user.gid);
    const launch = sandbox.launch(slot, ['true'], { cgroupProcs: [], envFile, network: 'default' });
    const handed = launch.handOver.map((/** @type {string} */ file) => openSync(file, 'r'));
    for (const file of launch.handOver) unlinkSync(file);
    const [program, ...args] = launch.argv;
    return new Promise((resolve) => {
      const child = spawn(program, args, {
        cwd: folder,
        env: launch.env,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe', ...handed],
      });
      for (const fd of handed) closeSync(fd);
      let stderr = '';
      child.stderr?.on('data', (chunk) => (stderr += chunk));
      child.once('error', (error) => resolve(error.message));
      child.once('close', (code) => resolve(code === 0 ? null : `exit ${code}: ${stderr.trim()}`));
    });
  };
  try {
    let next = 0;
    /** @type {string[]} */
    const failures = [];
    const before = process.resourceUsage();
    const childrenBefore = childrenCpuSec();
    const start = performance.now();
    await Promise.all(
      sandbox.slots.map(
        async (/** @type {import('../../apps/executor/dist/jobs/sandbox.js').Slot} */ slot) => {
          while (next < count) {
            next++;
            const failure = await launchOnce(slot);
            if (failure !== null) failures.push(failure);
          }
        },
      ),
    );
    const elapsedMs = performance.now() - start;
    const childCpuSec = childrenCpuSec() - childrenBefore;
    const after = process.resourceUsage();
    /** @type {number[]} */
    const alone = [];
    for (let i = 0; i < UNLOADED_N; i++) {
      const t = performance.now();
      const failure = await launchOnce(sandbox.slots[0]);
      alone.push(performance.now() - t);
      if (failure !== null) failures.push(failure);
    }
    return {
      count,
      concurrency,
      failed: failures.length,
      firstFailure: failures[0] ?? null,
      elapsedMs: round1(elapsedMs),
      perSec: round1(count / (elapsedMs / 1000)),
      childCpuMsPerLaunch: round1((childCpuSec * 1000) / count),
      launcherCpuMsPerLaunch: round1(
        (after.userCPUTime + after.systemCPUTime - before.userCPUTime - before.systemCPUTime) /
          1000 /
          count,
      ),
      aloneMs: stats(alone),
      cgroups: false,
    };
  } finally {
    await sandbox.release();
  }
}

/** CPU-seconds of this process's reaped children (/proc/self/stat cutime + cstime, in 1/100 s). */
function childrenCpuSec() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/**
 * The floor: the same number of jobs as bare JetStream messages, through a work-queue stream and a
 * durable pull consumer with explicit acks, on the server acai just used. With `inFlight` 1, each
 * message is published only once the previous one was consumed (the unloaded latency).
 * @param {Awaited<ReturnType<typeof connect>>} nc
 * @param {number} n
 * @param {number} inFlight
 */
async function rawJetStream(nc, n, inFlight) {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const tag = randomBytes(4).toString('hex');
  const stream = `BENCH_DISPATCH_${tag.toUpperCase()}`;
  const subject = `bench.dispatch.${tag}.work`;
  await jsm.streams.add({
    name: stream,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  try {
    await jsm.consumers.add(stream, {
      durable_name: 'worker',
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 10_000,
    });
    const consumer = await js.consumers.get(stream, 'worker');
    /** @type {number[]} */
    const publishedAt = new Array(n);
    /** @type {number[]} */
    const latencies = [];
    let lastConsumed = 0;
    /** @type {(() => void) | undefined} */
    let onConsumed;
    const messages = await consumer.consume({ max_messages: PULL_BATCH });
    const consumed = (async () => {
      for await (const m of messages) {
        const i = Number(m.string());
        lastConsumed = performance.now();
        latencies.push(lastConsumed - /** @type {number} */ (publishedAt[i]));
        m.ack();
        onConsumed?.();
        if (latencies.length === n) break;
      }
    })();

    const encoder = new TextEncoder();
    const firstPublish = performance.now();
    /** @type {Set<Promise<unknown>>} */
    const pending = new Set();
    for (let i = 0; i < n; i++) {
      while (pending.size >= inFlight) await Promise.race(pending);
      publishedAt[i] = performance.now();
      const acked = js.publish(subject, encoder.encode(String(i)));
      const p = (
        inFlight === 1
          ? Promise.all([acked, new Promise((r) => (onConsumed = () => r(undefined)))])
          : acked
      ).finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
    const publishedAll = performance.now();

    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const complete = await Promise.race([
      consumed.then(() => true),
      new Promise((r) => (timer = setTimeout(() => r(false), 60_000))),
    ]);
    clearTimeout(timer);
    await messages.close();
    await nc.flush();
    // Acks were sent without waiting for confirmation: wait until the work queue is really empty.
    let left = -1;
    for (let tries = 0; tries < 100; tries++) {
      left = (await jsm.streams.info(stream)).state.messages;
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const elapsedMs = lastConsumed - firstPublish;
    return {
      stream: 'work-queue, file storage',
      publishInFlight: inFlight,
      pullBatch: PULL_BATCH,
      consumed: latencies.length,
      complete,
      leftInStreamAfterAcks: left,
      elapsedMs: round1(elapsedMs),
      publishMsgsPerSec: round1(n / ((publishedAll - firstPublish) / 1000)),
      msgsPerSec: round1(latencies.length / (elapsedMs / 1000)),
      latencyMs: stats(latencies),
    };
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
  }
}

/**
 * @param {(line: string) => void} say
 * @param {number} n
 * @param {ReturnType<typeof summarise>} acai
 * @param {Awaited<ReturnType<typeof rawJetStream>>} baseline
 * @param {ReturnType<typeof summarise>} acaiUnloaded
 * @param {Awaited<ReturnType<typeof rawJetStream>>} baselineUnloaded
 * @param {Awaited<ReturnType<typeof spawnFloor>>} spawnTrue
 * @param {Awaited<ReturnType<typeof sandboxedFloor>>} sandboxedTrue
 */
function printTable(
  say,
  n,
  acai,
  baseline,
  acaiUnloaded,
  baselineUnloaded,
  spawnTrue,
  sandboxedTrue,
) {
  const rows = [
    ['', 'acai dispatch', 'raw JetStream'],
    ['count', `${acai.finished}/${n} runs`, `${baseline.consumed}/${n} msgs`],
    ['throughput /s', String(acai.jobsPerSec), String(baseline.msgsPerSec)],
    ['p50 ms', String(acai.latencyMs.p50), String(baseline.latencyMs.p50)],
    ['p99 ms', String(acai.latencyMs.p99), String(baseline.latencyMs.p99)],
    ['max ms', String(acai.latencyMs.max), String(baseline.latencyMs.max)],
    ['elapsed s', (acai.elapsedMs / 1000).toFixed(2), (baseline.elapsedMs / 1000).toFixed(2)],
    ['failed', String(acai.failed + acai.submitErrors), '0'],
    ['never ended', String(acai.neverEnded), String(n - baseline.consumed)],
    [`unloaded p50 ms`, String(acaiUnloaded.latencyMs.p50), String(baselineUnloaded.latencyMs.p50)],
    [`unloaded p99 ms`, String(acaiUnloaded.latencyMs.p99), String(baselineUnloaded.latencyMs.p99)],
  ];
  say('');
  for (const [a, b, c] of rows)
    say(`  ${String(a).padEnd(17)}${String(b).padStart(16)}${String(c).padStart(16)}`);
  say('');
  say(
    `  throughput and p50/p99 above: ${n} submitted ${SUBMIT_CONCURRENCY} at a time (latency includes the queue);`,
  );
  say(
    `  unloaded: ${UNLOADED_N} one at a time. acai POST -> 202: p50 ${acai.acceptLatencyMs.p50} ms, p99 ${acai.acceptLatencyMs.p99} ms`,
  );
  say(
    `  spawn \`true\` in this run: ${spawnTrue.perSec}/s at concurrency ${spawnTrue.concurrency}; ` +
      `acai does ${((100 * acai.jobsPerSec) / Math.max(spawnTrue.perSec, 0.001)).toFixed(0)}% of it (the goal: 50%)`,
  );
  if (sandboxedTrue !== null) {
    say(
      `  \`true\` through the sandboxed launch alone, in this run: ${sandboxedTrue.perSec}/s at concurrency ${sandboxedTrue.concurrency}, ` +
        `${sandboxedTrue.childCpuMsPerLaunch} ms of CPU per launch, one alone p50 ${sandboxedTrue.aloneMs.p50} ms ` +
        `(acai does ${((100 * acai.jobsPerSec) / Math.max(sandboxedTrue.perSec, 0.001)).toFixed(0)}% of it)`,
    );
  }
  say(
    `  floors (measured earlier, not in this run): spawn \`true\` ~${FLOORS.spawnTrueConcurrency4PerSec}/s at concurrency 4; ` +
      `raw JetStream pipelined job round trip ~${FLOORS.rawJetStreamPipelinedRoundTripPerSec.toLocaleString('en')}/s`,
  );
  say(
    `  acai is ${(baseline.msgsPerSec / Math.max(acai.jobsPerSec, 0.001)).toFixed(1)}x slower than the raw round trip`,
  );
}

/** @typedef {{ gatewayUrl: string; key: string; agent: http.Agent }} Client */

/** @param {number} x */
function round1(x) {
  return roundTo(x, 2);
}
