// @ts-check
// The `simulation` benchmark: 10,000 jobs (100 runs of 100 independent steps, pinned to a mix of
// instance types, on-demand and Spot) through the gateway onto the simulated provider, with up to
// 1,000 simulated nodes at once on a virtual clock. The whole stack runs as separate processes
// against a real nats-server and Postgres, as in `dispatch`; only the cloud and the commands are
// simulated (inside the provisioner). It runs twice, each time on a fresh stack:
//
// - at 3600x (a virtual hour per real second), where the stack keeps up with 1,000 nodes: the
//   virtual figures (makespan, nodes, interruptions, cost) are the simulation's answer;
// - at 36000x, where the stack cannot keep up: real wall time and jobs/s are what the stack can
//   push through simulated nodes, and the virtual figures show how much that stretches them.
//
// Real wall time and jobs/s are set against the dispatch benchmark's real-process figure and the
// goal; virtual figures come from the simulation itself (`acai.ctl.simulation.stats`).
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { startStack } from '../../libs/devstack/dist/index.js';
import { countLogLines, cpuSnapshot, cpuUse, request, round } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

const DEFAULT_JOBS = 10_000;
const STEPS_PER_RUN = 100;
const MAX_INSTANCES = 1_000;
/** Speed-ups of the rounds (ACAI_BENCH_SIM_SPEEDUPS=3600 runs one). */
const SPEEDUPS = (process.env['ACAI_BENCH_SIM_SPEEDUPS'] ?? '3600,36000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((s) => Number.isFinite(s) && s > 0);
const SEED = 1;
const IDLE_TIMEOUT_MS = 5 * 60_000;
/** Runs submitted at once. */
const SUBMIT_CONCURRENCY = 8;
/** Give up when no job has ended for this long (real time). */
const STALL_MS = 60_000;
/**
 * What the steps are pinned to, in turn: on-demand and Spot, compute, general and memory types.
 * `provision.offer` names an offer as GET /api/v1/instance-types does (`:spot` for Spot).
 */
const OFFERS = [
  'c5.large',
  'c5.large:spot',
  'c5.xlarge',
  'c5.xlarge:spot',
  'm5.large',
  'm5.large:spot',
  'm5.xlarge:spot',
  'r5.large',
  'c6i.large:spot',
  'c5.2xlarge:spot',
];
/** vCPUs of the sizes used (every type above runs at speed 1). */
const VCPU = { large: 2, xlarge: 4, '2xlarge': 8 };
/**
 * The figure this is set against: `npm run bench -- dispatch`, no-op jobs through the same stack
 * with real executor processes, limits enforced (docs/benchmarks.md, 2026-11-26).
 */
const DISPATCH_BASELINE = {
  jobsPerSec: 83,
  source: 'docs/benchmarks.md, dispatch, limits enforced',
};
const GOAL = '1,000 nodes x 10,000 jobs in seconds (the simulated provider)';

/**
 * @typedef {object} SimulationStats
 * @property {string} now
 * @property {number} waitingForNode
 * @property {{ launched: number; active: number; running: number; peakActive: number; peakRunning: number; terminated: number; interrupted: number; cost: number; instanceHours: number; launchedByType: Record<string, number> }} cloud
 * @property {{ started: number; reattempts: number; succeeded: number; failed: number; cancelled: number; lost: number; running: number; firstStartAt: string | null; lastEndAt: string | null; busyHours: number }} jobs
 */

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const total = ctx.n ?? DEFAULT_JOBS;
  const runs = Math.max(1, Math.ceil(total / STEPS_PER_RUN));
  /** @type {Awaited<ReturnType<typeof simulate>>[]} */
  const rounds = [];
  for (const speedup of SPEEDUPS) rounds.push(await simulate(ctx, runs, speedup));

  printTable(ctx.say, rounds);
  const problems = rounds.flatMap((r) => r.problems.map((p) => `${r.virtual.speedup}x: ${p}`));
  for (const p of problems) ctx.say(`PROBLEM: ${p}`);
  const dispatchFile = path.join(ctx.root, 'bench', 'results', 'dispatch.json');
  const lastDispatch = existsSync(dispatchFile)
    ? /** @type {{ acai?: { jobsPerSec?: number }; date?: string }} */ (
        JSON.parse(readFileSync(dispatchFile, 'utf8'))
      )
    : undefined;
  const file = ctx.writeResult('simulation', {
    benchmark: 'simulation',
    date: new Date().toISOString(),
    machine: { ...ctx.machine(), loadAverageAtEnd: os.loadavg().map((x) => round(x, 1)) },
    config: {
      jobs: runs * STEPS_PER_RUN,
      runs,
      stepsPerRun: STEPS_PER_RUN,
      offers: OFFERS,
      maxInstances: MAX_INSTANCES,
      speedups: SPEEDUPS,
      seed: SEED,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      submitConcurrency: SUBMIT_CONCURRENCY,
    },
    rounds,
    baseline: {
      dispatch: DISPATCH_BASELINE,
      dispatchLastRun:
        lastDispatch?.acai?.jobsPerSec === undefined
          ? null
          : { jobsPerSec: lastDispatch.acai.jobsPerSec, date: lastDispatch.date },
      goal: GOAL,
    },
    notes: [
      'real.wallSec: first POST to the last job end event seen on the bus; real.jobsPerSec = jobs ended / wallSec.',
      'virtual.makespanHours: from the virtual time just before the first POST to the last job end (virtual), as the simulation reports it. idealMakespanHours: the jobs node-hours spread evenly over 1,000 nodes (or the longest job), with no boots, no dispatch delay and no lost attempts: a lower bound. overIdeal = makespan / ideal - 1.',
      'cost: every simulated instance billed per second (a minute at least) from launch to termination, at its on-demand or Spot catalogue price; utilisation = node-hours running jobs (lost attempts included) / instance-hours paid.',
      'Each step: ACAI_SIM_SECONDS of one-vCPU work (4 to 36 hours, varied) and ACAI_SIM_PARALLEL (0.5 to 0.95); duration = seconds x ((1-p) + p/vCpu) / speed: about 1.5 to 25 virtual hours, 11 on average. Spot offers at the catalogue rate of 0.01 interruptions per instance-hour; an interrupted job restarts from the beginning (no checkpoints in the simulation).',
      'Virtual figures are faithful only while the stack keeps up: at speed-up S a real second of dispatch delay is S virtual seconds, during which nodes idle (and may be reaped: the idle timeout is 5 virtual minutes). Utilisation and launches per job show it: compare the rounds.',
      ...problems.map((p) => `PROBLEM: ${p}`),
    ],
  });
  return { ok: problems.length === 0, file };
}

/**
 * One round: a fresh stack at this speed-up, every job submitted, waited for, and measured.
 * @param {BenchContext} ctx
 * @param {number} runs
 * @param {number} speedup
 */
async function simulate(ctx, runs, speedup) {
  const say = ctx.say;
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-simulation-'));
  chmodSync(home, 0o755);
  say(`round at ${speedup}x: starting the stack in ${home}`);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    // A crash fails the benchmark rather than being restarted away.
    supervise: false,
    env: {
      ACAI_LOG_LEVEL: process.env['ACAI_LOG_LEVEL'] ?? 'info',
      ACAI_PROVIDERS: 'simulated',
      ACAI_EC2_MAX_INSTANCES: String(MAX_INSTANCES),
      ACAI_EC2_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      ACAI_SIM_SPEEDUP: String(speedup),
      ACAI_SIM_SEED: String(SEED),
    },
    // To profile the services: ACAI_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
    nodeArgs: (process.env['ACAI_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    say: (line) => say(`  ${line}`),
  });
  /** @type {string[]} */
  const problems = [];
  /** @type {Awaited<ReturnType<typeof connect>> | undefined} */
  let nc;
  const agent = new http.Agent({ keepAlive: true, maxSockets: SUBMIT_CONCURRENCY });
  try {
    let died = /** @type {string | undefined} */ (undefined);
    void stack.died.then((name) => (died = name));
    nc = await connect({ ...stack.natsOperator, name: 'bench-simulation' });
    const natsConn = nc;
    const client = { gatewayUrl: stack.gatewayUrl, key: stack.key(), agent };
    /** @returns {Promise<SimulationStats>} */
    const simStats = async () =>
      JSON.parse(
        (await natsConn.request('acai.ctl.simulation.stats', '', { timeout: 10_000 })).string(),
      );

    // Job and run ends, wherever they arrive (an end may overtake the 202 of its POST).
    let jobEnds = 0;
    let jobFailures = 0;
    let lastJobEnd = 0;
    /** @type {Map<string, string>} */
    const runEnds = new Map();
    const sub = nc.subscribe('acai.evt.default.*.*', {
      callback: (error, msg) => {
        if (error) return;
        const type = msg.headers?.get('Acai-Type') ?? '';
        if (type === 'job.succeeded' || type === 'job.failed' || type === 'job.cancelled') {
          jobEnds++;
          if (type !== 'job.succeeded') jobFailures++;
          lastJobEnd = performance.now();
        } else if (type === 'run.succeeded' || type === 'run.failed' || type === 'run.cancelled') {
          runEnds.set(msg.subject.slice(msg.subject.lastIndexOf('.') + 1), type);
        }
      },
    });
    await nc.flush();

    const before = await simStats();
    const cpuBefore = cpuSnapshot(home);
    say(
      `submitting ${runs} runs x ${STEPS_PER_RUN} steps, ${SUBMIT_CONCURRENCY} at a time; ` +
        `a virtual hour is ${round(3_600_000 / speedup, 1)} ms; at most ${MAX_INSTANCES} nodes`,
    );
    const firstSubmit = performance.now();
    /** @type {string[]} */
    const runIds = [];
    /** @type {string[]} */
    const submitErrors = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(SUBMIT_CONCURRENCY, runs) }, async () => {
        while (next < runs) {
          const r = next++;
          try {
            const response = await request(client, 'POST', '/api/v1/runs', runSpec(r), 120_000);
            if (response.status !== 202)
              submitErrors.push(`HTTP ${response.status}: ${response.text.slice(0, 300)}`);
            else runIds.push(/** @type {{ id: string }} */ (JSON.parse(response.text)).id);
          } catch (error) {
            submitErrors.push(error instanceof Error ? error.message : String(error));
          }
        }
      }),
    );
    const submitted = performance.now();
    const jobs = runIds.length * STEPS_PER_RUN;
    say(`submitted in ${round((submitted - firstSubmit) / 1000, 1)} s; waiting for ${jobs} jobs`);

    // Progress once a second: real and virtual time, nodes, jobs.
    /** @type {{ realS: number; virtualH: number; nodes: number; up: number; jobsRunning: number; ended: number; notStarted: number }[]} */
    const timeline = [];
    let lastProgress = performance.now();
    let lastEnded = 0;
    /** @type {'done' | 'stalled' | 'died'} */
    let outcome = 'done';
    for (;;) {
      await new Promise((r) => setTimeout(r, 1_000));
      const s = await simStats().catch(() => undefined);
      const now = performance.now();
      if (s !== undefined) {
        const point = {
          realS: round((now - firstSubmit) / 1000, 1),
          virtualH: round((Date.parse(s.now) - Date.parse(before.now)) / 3_600_000, 2),
          nodes: s.cloud.active,
          up: s.cloud.running,
          jobsRunning: s.jobs.running,
          ended: jobEnds,
          notStarted: s.waitingForNode,
        };
        timeline.push(point);
        if (timeline.length % 10 === 1) {
          say(
            `  ${String(point.realS).padStart(6)} s real ${String(point.virtualH).padStart(8)} h virtual  ` +
              `nodes ${String(point.nodes).padStart(4)} (${String(point.up).padStart(4)} up)  ` +
              `jobs running ${String(point.jobsRunning).padStart(4)}, ended ${String(point.ended).padStart(6)}/${jobs}, ` +
              `placed and not started ${point.notStarted}`,
          );
        }
      }
      if (jobEnds > lastEnded) {
        lastEnded = jobEnds;
        lastProgress = now;
      }
      if (jobEnds >= jobs && runEnds.size >= runIds.length) break;
      if (died !== undefined) {
        outcome = 'died';
        break;
      }
      if (now - lastProgress > STALL_MS) {
        outcome = 'stalled';
        break;
      }
    }
    const cpu = cpuUse(cpuBefore, cpuSnapshot(home));
    const wallMs = Math.max(lastJobEnd, firstSubmit) - firstSubmit;
    const atEnd = await simStats();
    // Idle nodes are reaped after the idle timeout (virtual): wait for the bill to close.
    for (let i = 0; i < 100; i++) {
      if ((await simStats()).cloud.active === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const final = await simStats();
    sub.unsubscribe();

    const lastEndAt = atEnd.jobs.lastEndAt === null ? NaN : Date.parse(atEnd.jobs.lastEndAt);
    const makespanH = (lastEndAt - Date.parse(before.now)) / 3_600_000;
    const idealH = idealMakespanHours(runs);
    if (submitErrors.length > 0)
      problems.push(`${submitErrors.length} submissions failed, first: ${submitErrors[0]}`);
    if (outcome !== 'done') {
      problems.push(
        outcome === 'died'
          ? `a service died: ${died}`
          : `no job ended for ${STALL_MS / 1000} s: ${jobEnds} of ${jobs} ended`,
      );
    }
    if (jobFailures > 0) problems.push(`${jobFailures} jobs failed or were cancelled`);
    const failedRuns = [...runEnds.values()].filter((t) => t !== 'run.succeeded').length;
    if (failedRuns > 0) problems.push(`${failedRuns} runs did not succeed`);
    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const errorCount = Object.values(logErrors).reduce((a, b) => a + b, 0);
    if (errorCount > 0)
      problems.push(
        `service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)} (see ${stack.logDir})`,
      );
    const result = {
      jobs: {
        submitted: jobs,
        ended: jobEnds,
        failed: jobFailures,
        runs: runIds.length,
        runsEnded: runEnds.size,
      },
      real: {
        wallSec: round(wallMs / 1000, 2),
        submitSec: round((submitted - firstSubmit) / 1000, 2),
        jobsPerSec: round(jobEnds / (wallMs / 1000), 1),
      },
      virtual: {
        speedup,
        makespanHours: round(makespanH, 2),
        idealMakespanHours: round(idealH, 2),
        overIdeal: round(makespanH / idealH - 1, 3),
        workNodeHours: round(final.jobs.busyHours, 1),
      },
      nodes: {
        launched: final.cloud.launched,
        peak: final.cloud.peakActive,
        peakRunning: final.cloud.peakRunning,
        launchedPerJob: round(final.cloud.launched / Math.max(1, jobEnds), 3),
        launchedByType: final.cloud.launchedByType,
        leftRunning: final.cloud.active,
      },
      spot: {
        interruptions: final.cloud.interrupted,
        attemptsLost: final.jobs.lost,
        reattempts: final.jobs.reattempts,
      },
      cost: {
        usd: round(final.cloud.cost, 2),
        instanceHours: round(final.cloud.instanceHours, 1),
        utilisation: round(final.jobs.busyHours / final.cloud.instanceHours, 3),
        usdPerJob: round(final.cloud.cost / Math.max(1, jobEnds), 4),
      },
      cpu,
      simulation: final,
      timeline,
      problems,
    };
    say(
      `round at ${speedup}x: ${jobEnds}/${jobs} jobs in ${result.real.wallSec} s real (${result.real.jobsPerSec}/s), ` +
        `${result.virtual.makespanHours} h virtual, ${result.nodes.launched} nodes launched, peak ${result.nodes.peak}`,
    );
    return result;
  } finally {
    agent.destroy();
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    say('stopping the stack');
    await stack.stop();
    if (problems.length === 0 && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`state and logs kept in ${home}`);
  }
}

/**
 * Work of step `i` of run `r`: deterministic, varied.
 * @param {number} r
 * @param {number} i
 */
function stepWork(r, i) {
  const k = r * STEPS_PER_RUN + i;
  const hours = 4 + ((k * 7919) % 3201) / 100; // 4 to 36 hours of one-vCPU work
  const parallel = 0.5 + ((k * 104_729) % 46) / 100; // 0.5 to 0.95
  return {
    seconds: Math.round(hours * 3600),
    parallel: round(parallel, 2),
    offer: /** @type {string} */ (OFFERS[k % OFFERS.length]),
  };
}

/** @param {number} r */
function runSpec(r) {
  return {
    name: `sim-${r}`,
    steps: Array.from({ length: STEPS_PER_RUN }, (_, i) => {
      const w = stepWork(r, i);
      return {
        name: `step-${i}`,
        command: ['train'],
        env: { ACAI_SIM_SECONDS: String(w.seconds), ACAI_SIM_PARALLEL: String(w.parallel) },
        provision: { offer: w.offer },
      };
    }),
  };
}

/**
 * The virtual makespan with no overheads: the jobs' node-hours spread evenly over the nodes, or
 * the longest job if that is longer. A lower bound.
 * @param {number} runs
 */
function idealMakespanHours(runs) {
  let sum = 0;
  let longest = 0;
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < STEPS_PER_RUN; i++) {
      const w = stepWork(r, i);
      const size = /** @type {keyof typeof VCPU} */ (
        w.offer.split(':')[0]?.split('.')[1] ?? 'large'
      );
      const hours = (w.seconds * (1 - w.parallel + w.parallel / VCPU[size])) / 3600;
      sum += hours;
      longest = Math.max(longest, hours);
    }
  }
  return Math.max(longest, sum / Math.min(MAX_INSTANCES, runs * STEPS_PER_RUN));
}

/**
 * @param {(line: string) => void} say
 * @param {Awaited<ReturnType<typeof simulate>>[]} rounds
 */
function printTable(say, rounds) {
  /** @type {[string, (r: Awaited<ReturnType<typeof simulate>>) => string, string][]} */
  const rows = [
    ['', (r) => `${r.virtual.speedup}x`, 'baseline / goal'],
    ['jobs', (r) => `${r.jobs.ended}/${r.jobs.submitted}, ${r.jobs.failed} failed`, 'goal: 10,000'],
    [
      'real wall time',
      (r) => `${r.real.wallSec} s`,
      `goal: seconds (dispatch: 10,000 in ${round(10_000 / DISPATCH_BASELINE.jobsPerSec, 0)} s)`,
    ],
    [
      'jobs/s (real)',
      (r) => String(r.real.jobsPerSec),
      `${DISPATCH_BASELINE.jobsPerSec} (dispatch, real processes)`,
    ],
    [
      'virtual makespan',
      (r) => `${r.virtual.makespanHours} h (+${round(r.virtual.overIdeal * 100, 0)} %)`,
      `${rounds[0]?.virtual.idealMakespanHours ?? '?'} h with no overheads`,
    ],
    ['nodes launched', (r) => `${r.nodes.launched} (${r.nodes.launchedPerJob}/job)`, ''],
    ['nodes at peak', (r) => String(r.nodes.peak), 'goal: 1,000 at once'],
    ['spot interruptions', (r) => String(r.spot.interruptions), ''],
    ['re-attempts', (r) => String(r.spot.reattempts), ''],
    ['simulated cost', (r) => `$${r.cost.usd}`, ''],
    ['utilisation', (r) => `${round(r.cost.utilisation * 100, 1)} %`, 'busy / paid node-hours'],
    ['CPU busy', (r) => `${r.cpu.machineBusyPct} % of ${os.cpus().length}`, ''],
  ];
  say('');
  for (const [label, cell, base] of rows) {
    say(`  ${label.padEnd(20)}${rounds.map((r) => cell(r).padEnd(26)).join('')}${base}`);
  }
  say('');
  for (const r of rounds) {
    say(
      `  CPU at ${r.virtual.speedup}x (${r.cpu.wallSec} s): ` +
        Object.entries(r.cpu.cpuSecByProcess)
          .map(([name, sec]) => `${name} ${sec} s`)
          .join(', ') +
        (r.cpu.otherBusySec > r.cpu.wallSec * 0.25
          ? `; NOTE: ${r.cpu.otherBusySec} CPU-s outside the stack (noisy)`
          : ''),
    );
  }
}
