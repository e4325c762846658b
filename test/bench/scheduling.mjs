// @ts-check
// The `scheduling` benchmark (issue #12): SMLT's comparison of fixed configurations against
// adaptive scheduling, for jobs with deadlines and budgets. It is organised in named rounds
// (`ROUNDS`):
//
// - `simulated`: N training jobs (200 by default) of varied sizes on the simulated provider and its
//   virtual clock, the whole stack as separate processes (as `simulation`). Each job's work and how
//   it scales with workers are measured first from the MNIST trainer on this machine (one epoch
//   with THREADS=1 and THREADS=2: seconds per epoch and, by Amdahl's law, the parallel fraction);
//   the jobs differ by epochs and data scale. Each job has a deadline or a budget; Spot capacity is
//   reclaimed often. Arms, one after another on the same stack: acai's adaptive scheduling (a run
//   with `deadline` or `budget`, `provision` left to the auto-provisioner, which learns the jobs'
//   runtime model from its own profiling run), then the same jobs pinned (`provision.offer`) to the
//   smallest configuration, the one a user would pick (c5.xlarge), the largest, and the best single
//   fixed configuration in hindsight.
//
// - `mnist-rescale` (test/bench/mnist-rescale.mjs): real MNIST on the local provider under a
//   deadline 1 CPU misses: fixed 1 CPU, fixed 2 CPU and acai starting on 1 CPU and rescaling.
//
// Rescaling while training acts on the simulated round's adaptive runs as they are (they report
// progress and checkpoint).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { startNats, startStack } from '../../libs/devstack/dist/index.js';
import { countLogLines, cpuSnapshot, cpuUse, request, round, stats } from './lib.mjs';
import { mnistRescaleRound } from './mnist-rescale.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

/**
 * @typedef {object} Round
 * @property {string} description
 * @property {(ctx: BenchContext) => Promise<{ result: object; problems: string[] }>} run
 */

/** The rounds, in the order they run (ACAI_BENCH_SCHED_ROUNDS=simulated picks some). */
/** @type {Record<string, Round>} */
const ROUNDS = {
  simulated: {
    description:
      'jobs sized from MNIST on this machine, with deadlines or budgets and frequent Spot losses, on the simulated provider: fixed configurations against adaptive scheduling',
    run: simulatedRound,
  },
  'mnist-rescale': {
    description:
      'MNIST for real on the local provider under a deadline 1 CPU misses: fixed 1 CPU, fixed 2 CPU, and acai starting on 1 CPU and rescaling (ACAI_BENCH_RESCALE_REPEATS rounds, default 1)',
    run: async (ctx) => {
      const { figures, problems } = await mnistRescaleRound(
        ctx,
        Number(process.env['ACAI_BENCH_RESCALE_REPEATS'] ?? 1),
      );
      return { result: figures, problems };
    },
  },
};

const DEFAULT_JOBS = 200;
/** The jobs' and the simulated cloud's seed; ACAI_BENCH_SCHED_SEED runs another draw of the same kind. */
const SEED = Number(process.env['ACAI_BENCH_SCHED_SEED'] ?? 12);
/**
 * ACAI_BENCH_SCHED_ARMS=adaptive (a comma list) runs only some arms, for a quicker look while
 * working; the goal is judged only with every arm.
 */
const ONLY_ARMS = (process.env['ACAI_BENCH_SCHED_ARMS'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');
/** Virtual seconds per real second; ACAI_BENCH_SCHED_SPEEDUP overrides it. */
const SPEEDUP = Number(process.env['ACAI_BENCH_SCHED_SPEEDUP'] ?? 3600);
/** Spot reclaims per instance-hour: 20x the catalogue's 0.01, so that they matter. */
const SPOT_INTERRUPTIONS_PER_HOUR = 0.2;
/**
 * The jobs arrive (Poisson) over this many virtual hours: 200 in 36 s of real time at 3600x, slow
 * enough for the stack to keep up (its real latency is stretched by the speed-up).
 */
const ARRIVAL_HOURS = 36;
/**
 * An arm stops waiting this many virtual hours after its first submission, and cancels the runs
 * still going (they count as unfinished: a deadline missed, their cost so far): every job ends
 * well before it on a full-speed fixed configuration; ACAI_BENCH_SCHED_CUTOFF_HOURS overrides it.
 */
const CUTOFF_HOURS = Number(process.env['ACAI_BENCH_SCHED_CUTOFF_HOURS'] ?? ARRIVAL_HOURS + 48);
/** Share of the jobs with a deadline; the others have a budget. */
const DEADLINE_SHARE = 0.6;
/** A deadline is this many times the job's fastest possible time (log-uniform): some infeasible. */
const DEADLINE_FACTOR = /** @type {const} */ ([0.7, 4]);
/** A budget is this many times the job's cheapest possible cost (log-uniform). */
const BUDGET_FACTOR = /** @type {const} */ ([1.3, 4]);
/** Epochs (uniform) and data scale, in MNIST training sets (log-uniform), of the jobs. */
const EPOCHS = /** @type {const} */ ([5, 20]);
const DATA_SCALE = /** @type {const} */ ([300, 3000]);
/**
 * Progress steps a simulated job reports, and a checkpoint every this many (every 20 %). Each is
 * a call the simulated job waits for: a step must last much longer, in real time, than the stack
 * takes to answer, or the stack's latency stretches the job (the jobs above last 15 minutes to
 * 20 hours on their fastest configuration, a step at least 25 ms of real time at 3600x).
 */
const SIM_STEPS = 10;
const CHECKPOINT_EVERY = 2;
/** What a user would pick from the catalogue: a mid-size compute type, on-demand. */
const USER_PICK = 'c5.xlarge';
/** MNIST calibration: runs of one epoch per thread count (the fastest is kept). */
const CALIBRATION_REPEATS = Number(process.env['ACAI_BENCH_SCHED_CALIBRATION_REPEATS'] ?? 3);
/** The earlier measurement the calibration is set beside (examples/mnist/README.md). */
const EARLIER_TWO_THREAD_SPEEDUP = 1.6;
/** How long a calibration measurement waits for a quiet machine. */
const QUIET_WAIT_MS = 30_000;
const MAX_INSTANCES = 400;
/**
 * The stack's own nats-server gives each service only the subjects its role lists
 * (`libs/contracts/src/bus-permissions.ts`), as a deployment does. ACAI_BENCH_SCHED_BUS_AUTH=0
 * runs the stack on a nats-server of its own without users instead (the scheduler once lacked
 * `estimateRun` there, and every run with a deadline or budget was refused with 503).
 */
const BUS_AUTH = process.env['ACAI_BENCH_SCHED_BUS_AUTH'] !== '0';
/**
 * ACAI_BENCH_SCHED_CALIBRATION=<an earlier scheduling.json> reuses the MNIST calibration that run
 * measured instead of measuring again: the same jobs, to compare code on a machine too busy to
 * calibrate (two threads in lockstep measure its load, not the trainer).
 */
const CALIBRATION_FROM = process.env['ACAI_BENCH_SCHED_CALIBRATION'] ?? '';
const SUBMIT_CONCURRENCY = 16;
const GOAL = {
  feasibleDeadlinesMet: 0.95,
  budgetOverruns: 0,
  cheaperThanFixedAsGood: 2,
  text: '>= 95 % of feasible deadlines met with no budget overrun, and >= 2x cheaper than the fixed configuration that meets as many deadlines',
};

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const names = (process.env['ACAI_BENCH_SCHED_ROUNDS'] ?? Object.keys(ROUNDS).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !(n in ROUNDS));
  if (unknown.length > 0) throw new Error(`unknown rounds: ${unknown.join(', ')}`);
  /** @type {Record<string, object>} */
  const rounds = {};
  /** @type {string[]} */
  const problems = [];
  for (const name of names) {
    const round_ = /** @type {Round} */ (ROUNDS[name]);
    ctx.say(`round ${name}: ${round_.description}`);
    const { result, problems: found } = await round_.run(ctx);
    rounds[name] = result;
    problems.push(...found.map((p) => `${name}: ${p}`));
  }
  for (const p of problems) ctx.say(`PROBLEM: ${p}`);
  const file = ctx.writeResult('scheduling', {
    benchmark: 'scheduling',
    date: new Date().toISOString(),
    machine: { ...ctx.machine(), loadAverageAtEnd: os.loadavg().map((x) => round(x, 1)) },
    goal: GOAL.text,
    rounds,
    notes: problems.map((p) => `PROBLEM: ${p}`),
  });
  return { ok: problems.length === 0, file };
}

// ---------------------------------------------------------------------------------------------
// Round `simulated`

/**
 * @typedef {object} Calibration
 * @property {number} secondsPerEpoch   one epoch of MNIST (60,000 images) on one thread
 * @property {number} twoThreadSpeedup  one thread's epoch time over two threads' (as used)
 * @property {number} measuredTwoThreadSpeedup  as measured in this run
 * @property {string} speedupSource     measured, or the earlier measurement and why
 * @property {number[]} machineBusyPctBefore  how busy the CPUs were before each measurement
 * @property {number} parallel          Amdahl's parallel fraction from it: 2 (1 - 1/speedup)
 * @property {number[]} oneThread       every one-thread epoch measured, seconds
 * @property {number[]} twoThreads
 * @property {number[]} loadAverage
 */

/**
 * @typedef {object} OfferView
 * @property {string} name
 * @property {number} vCpu
 * @property {number} pricePerHour
 * @property {number} speed
 * @property {number} bootSeconds
 * @property {boolean} spot
 * @property {number} gpus
 */

/**
 * @typedef {object} Job
 * @property {number} index
 * @property {number} epochs
 * @property {number} dataScale
 * @property {number} workSeconds      ACAI_SIM_SECONDS: the work on one c5 vCPU
 * @property {number} arrivalHours     virtual hours after the arm starts
 * @property {number | null} deadlineSeconds   from submission
 * @property {number | null} budget    USD
 * @property {number} fastestSeconds   boot included, on the fastest configuration
 * @property {number} cheapestCost     on the cheapest configuration, boot included
 * @property {boolean | null} feasible whether its deadline can be met at all (null: no deadline)
 */

/**
 * @typedef {object} Arm
 * @property {string} name
 * @property {string | null} offer    the pinned offer (`c5.xlarge`, `c5.large:spot`), null: adaptive
 * @property {string} why
 */

/** @param {BenchContext} ctx */
async function simulatedRound(ctx) {
  const say = ctx.say;
  const n = ctx.n ?? DEFAULT_JOBS;
  /** @type {string[]} */
  const problems = [];

  const calibration =
    CALIBRATION_FROM === '' ? await calibrate(ctx) : reuseCalibration(CALIBRATION_FROM);
  say(
    `MNIST on this machine: ${calibration.secondsPerEpoch} s per epoch on one thread, ` +
      `${calibration.measuredTwoThreadSpeedup}x with two (earlier: ${EARLIER_TWO_THREAD_SPEEDUP}x): ` +
      `parallel fraction ${calibration.parallel}`,
  );
  if (calibration.measuredTwoThreadSpeedup !== calibration.twoThreadSpeedup)
    problems.push(`calibration: the two-thread speed-up is ${calibration.speedupSource}`);

  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-scheduling-'));
  chmodSync(home, 0o755);
  say(
    `starting the stack in ${home} (simulated provider at ${SPEEDUP}x; ` +
      `${BUS_AUTH ? "the stack's nats-server, with per-service permissions" : 'a nats-server without per-service users: see BUS_AUTH'})`,
  );
  const ownNats = BUS_AUTH
    ? undefined
    : await startNats({
        dataDir: path.join(home, 'nats'),
        logFile: path.join(home, 'nats-server.log'),
      });
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    ...(ownNats === undefined ? {} : { natsUrl: ownNats.url }),
    supervise: false,
    env: {
      ACAI_LOG_LEVEL: process.env['ACAI_LOG_LEVEL'] ?? 'info',
      ACAI_PROVIDERS: 'simulated',
      ACAI_EC2_MAX_INSTANCES: String(MAX_INSTANCES),
      ACAI_SIM_SPEEDUP: String(SPEEDUP),
      ACAI_SIM_SEED: String(SEED),
      ACAI_SIM_SPOT_INTERRUPTIONS_PER_HOUR: String(SPOT_INTERRUPTIONS_PER_HOUR),
    },
    nodeArgs: (process.env['ACAI_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    say: (line) => say(`  ${line}`),
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: SUBMIT_CONCURRENCY });
  /** @type {Awaited<ReturnType<typeof connect>> | undefined} */
  let nc;
  try {
    let died = /** @type {string | undefined} */ (undefined);
    void stack.died.then((name) => (died = name));
    nc = await connect({ ...stack.natsOperator, name: 'bench-scheduling' });
    const client = { gatewayUrl: stack.gatewayUrl, key: stack.key(), agent };
    /** @param {'GET' | 'POST'} method @param {string} pathname @param {unknown} [body] */
    const api = async (method, pathname, body) => {
      const r = await request(client, method, pathname, body);
      if (r.status >= 300) throw new Error(`${method} ${pathname}: HTTP ${r.status} ${r.text}`);
      return JSON.parse(r.text);
    };
    const natsConn = nc;
    const sim = new SimClock(natsConn);

    const offers = /** @type {{ offers: (OfferView & { provider: string })[] }} */ (
      await api('GET', '/api/v1/instance-types')
    ).offers.filter((o) => o.provider === 'simulated');
    const jobs = makeJobs(n, calibration, offers);
    const arms = chooseArms(offers, jobs, calibration.parallel).filter(
      (a) => ONLY_ARMS.length === 0 || ONLY_ARMS.includes(a.name),
    );
    if (ONLY_ARMS.length > 0) problems.push(`only the arms ${ONLY_ARMS.join(', ')} were run`);
    const hindsight = hindsightTable(offers, jobs, calibration.parallel);
    say(
      `${jobs.length} jobs: ${jobs.filter((j) => j.deadlineSeconds !== null).length} with a deadline ` +
        `(${jobs.filter((j) => j.feasible === true).length} feasible), ${jobs.filter((j) => j.budget !== null).length} with a budget; ` +
        `work ${round(Math.min(...jobs.map((j) => j.workSeconds)) / 3600, 2)}-${round(Math.max(...jobs.map((j) => j.workSeconds)) / 3600, 1)} h on one vCPU`,
    );
    say(`arms: ${arms.map((a) => `${a.name} (${a.offer ?? 'auto'})`).join(', ')}`);

    /** Run ends, by run id (an end may overtake the 202 of its POST). */
    /** @type {Map<string, string>} */
    const runEnds = new Map();
    nc.subscribe('acai.evt.default.run.*', {
      callback: (error, msg) => {
        if (error) return;
        const type = msg.headers?.get('Acai-Type') ?? '';
        if (['run.succeeded', 'run.failed', 'run.cancelled'].includes(type))
          runEnds.set(msg.subject.slice(msg.subject.lastIndexOf('.') + 1), type);
      },
    });
    await nc.flush();

    /** @type {Record<string, ReturnType<typeof summariseArm>>} */
    const results = {};
    for (const arm of arms) {
      const same = arms.find((a) => a !== arm && a.offer === arm.offer && results[a.name]);
      if (arm.offer !== null && same !== undefined) {
        say(`arm ${arm.name}: the same configuration as ${same.name}, not run again`);
        results[arm.name] = { .../** @type {any} */ (results[same.name]), sameAs: same.name };
        continue;
      }
      const measured = await runArm({
        ctx,
        home,
        client,
        api,
        sim,
        runEnds,
        jobs,
        arm,
        offers,
        calibration,
        isDead: () => died,
      });
      problems.push(...measured.problems.map((p) => `${arm.name}: ${p}`));
      results[arm.name] = summariseArm(arm, jobs, measured);
      say(`arm ${arm.name}: ${describe(/** @type {any} */ (results[arm.name]))}`);
    }

    const verdict = judge(results);
    printTable(say, arms, results, verdict);
    say(
      `  by the formula, every on-demand configuration (deadlines met of ${jobs.filter((j) => j.deadlineSeconds !== null).length}, budgets overrun of ${jobs.filter((j) => j.budget !== null).length}, cost; no Spot losses, no lag): ` +
        hindsight
          .filter((h) => !h.offer.endsWith(':spot'))
          .map((h) => `${h.offer} ${h.deadlinesMet}/${h.budgetOverruns}/$${h.cost}`)
          .join(', '),
    );
    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const errorCount = Object.values(logErrors).reduce((a, b) => a + b, 0);
    if (errorCount > 0)
      problems.push(`service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)}`);
    return {
      problems,
      result: {
        config: {
          jobs: n,
          seed: SEED,
          speedup: SPEEDUP,
          cutOffHours: CUTOFF_HOURS,
          spotInterruptionsPerHour: SPOT_INTERRUPTIONS_PER_HOUR,
          arrivalHours: ARRIVAL_HOURS,
          deadlineShare: DEADLINE_SHARE,
          deadlineFactor: DEADLINE_FACTOR,
          budgetFactor: BUDGET_FACTOR,
          epochs: EPOCHS,
          dataScale: DATA_SCALE,
          simSteps: SIM_STEPS,
          checkpointEvery: CHECKPOINT_EVERY,
          maxInstances: MAX_INSTANCES,
          busPermissions: BUS_AUTH,
        },
        calibration,
        arms: results,
        goal: verdict,
        hindsightPredicted: hindsight,
        jobs,
        notes: [
          'Each job: ACAI_SIM_SECONDS = MNIST seconds per epoch (one thread, measured) x epochs x data scale; ACAI_SIM_PARALLEL = the parallel fraction measured with two threads, extrapolated to more vCPUs by Amdahl; 20 progress steps, a checkpoint every 2.',
          'Times are virtual: an event time (real, from GET /api/v1/jobs/{id}/history) is mapped to the virtual clock, which is real time scaled by the speed-up (sampled from acai.ctl.simulation.stats). A deadline is met when the job succeeded within it from just before its POST.',
          'feasible: the deadline is at least the job on the fastest configuration plus its boot. Cost: the simulated cloud bill for the arm (every instance, boots and idle minutes included; the adaptive arm includes its profiling run). A job is over budget when the instance-time from its placement to its end, at the price of where it ran, exceeds its budget.',
          'The fixed arms carry no deadline or budget (a fixed-configuration system knows neither); they are judged against the same ones.',
        ],
      },
    };
  } finally {
    agent.destroy();
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    say('stopping the stack');
    await stack.stop();
    await ownNats?.stop();
    if (problems.length === 0 && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`state and logs kept in ${home}`);
  }
}

/**
 * Seconds per epoch of examples/mnist's trainer, one thread and two, run outside acai by
 * examples/mnist/local.mjs (etl, one epoch of train, evaluate); the fastest of each is kept. Two
 * threads in lockstep suffer most from other work on the machine, so each measurement first waits
 * (up to QUIET_WAIT_MS) for the CPUs to be less than half busy. A two-thread speed-up outside
 * (1, 2] is not a measurement of the code but of the machine's load: the earlier measurement is
 * used instead, and the round says so as a problem.
 * @param {BenchContext} ctx
 * @returns {Promise<Calibration>}
 */
async function calibrate(ctx) {
  const script = path.join(ctx.root, 'examples', 'mnist', 'local.mjs');
  if (!existsSync(path.join(ctx.root, 'examples', 'mnist', 'dist', 'train.js')))
    throw new Error('examples/mnist/dist is missing: npm run build');
  /** @type {Record<1 | 2, number[]>} */
  const seconds = { 1: [], 2: [] };
  /** @type {number[]} */
  const busyBefore = [];
  for (let i = 0; i < CALIBRATION_REPEATS; i++) {
    for (const threads of /** @type {const} */ ([1, 2])) {
      busyBefore.push(await waitForQuiet());
      const out = await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [script, '--min-accuracy', '0.5'], {
          env: { ...process.env, THREADS: String(threads), EPOCHS: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let text = '';
        child.stdout.setEncoding('utf8').on('data', (c) => (text += c));
        child.stderr.resume();
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0
            ? resolve(text)
            : reject(new Error(`local.mjs exited ${code}: ${text.slice(-500)}`)),
        );
      });
      const epoch = /\[train\] ##acai metric .*\bseconds=([\d.]+)/.exec(
        /** @type {string} */ (out),
      );
      if (epoch === null) throw new Error('no epoch time in the MNIST trainer output');
      seconds[threads].push(Number(epoch[1]));
      ctx.say(
        `  calibration: THREADS=${threads}: ${round(Number(epoch[1]), 2)} s for one epoch ` +
          `(machine ${busyBefore.at(-1)} % busy just before)`,
      );
    }
  }
  const one = Math.min(...seconds[1]);
  const two = Math.min(...seconds[2]);
  const measured = one / two;
  const valid = measured > 1 && measured <= 2;
  const speedup = valid ? measured : EARLIER_TWO_THREAD_SPEEDUP;
  return {
    secondsPerEpoch: round(one, 3),
    twoThreadSpeedup: round(speedup, 3),
    measuredTwoThreadSpeedup: round(measured, 3),
    speedupSource: valid
      ? 'measured in this run'
      : `the earlier measurement (${EARLIER_TWO_THREAD_SPEEDUP}x): this run measured ${round(measured, 3)}x, which is the machine's load, not the code`,
    parallel: round(2 * (1 - 1 / speedup), 3),
    oneThread: seconds[1].map((s) => round(s, 3)),
    twoThreads: seconds[2].map((s) => round(s, 3)),
    machineBusyPctBefore: busyBefore,
    loadAverage: os.loadavg().map((x) => round(x, 1)),
  };
}

/**
 * The calibration an earlier run of this round measured (its JSON under bench/results/), for
 * comparing code on the same jobs when the machine is too busy to measure MNIST again.
 * @param {string} file
 * @returns {Calibration}
 */
function reuseCalibration(file) {
  const earlier = JSON.parse(readFileSync(file, 'utf8'));
  const c = earlier?.rounds?.simulated?.calibration;
  if (c === undefined || typeof c.secondsPerEpoch !== 'number' || typeof c.parallel !== 'number')
    throw new Error(
      `${file} has no calibration of the simulated round (rounds.simulated.calibration)`,
    );
  return {
    ...c,
    speedupSource: `${c.speedupSource}, in the run of ${earlier.date} (reused from ${path.basename(file)})`,
  };
}

/** Waits until the CPUs are less than half busy over a second, or QUIET_WAIT_MS; answers the last %. */
async function waitForQuiet() {
  const until = performance.now() + QUIET_WAIT_MS;
  for (;;) {
    const a = cpuSnapshot('/nonexistent');
    await new Promise((r) => setTimeout(r, 1000));
    const busy = cpuUse(a, cpuSnapshot('/nonexistent')).machineBusyPct;
    if (busy < 50 || performance.now() > until) return busy;
  }
}

/** A small seeded generator (mulberry32). @param {number} seed */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Virtual seconds of a job on an offer, as the simulated provider computes them, boot included.
 * @param {number} work @param {number} parallel @param {OfferView} offer
 */
function secondsOn(work, parallel, offer) {
  return offer.bootSeconds + (work * (1 - parallel + parallel / offer.vCpu)) / offer.speed;
}

/** The name `provision.offer` takes: GET /api/v1/instance-types names Spot offers `c5.large:spot`. @param {OfferView} o */
function offerKey(o) {
  return o.name;
}

/**
 * The jobs, the same in every arm: sizes, arrivals, deadlines and budgets from the seed.
 * @param {number} n @param {Calibration} calibration @param {OfferView[]} offers
 * @returns {Job[]}
 */
function makeJobs(n, calibration, offers) {
  const random = rng(SEED);
  /** @param {readonly [number, number]} range */
  const logUniform = ([lo, hi]) => Math.exp(Math.log(lo) + random() * Math.log(hi / lo));
  const p = calibration.parallel;
  let arrival = 0;
  return Array.from({ length: n }, (_, index) => {
    const epochs = EPOCHS[0] + Math.floor(random() * (EPOCHS[1] - EPOCHS[0] + 1));
    const dataScale = round(logUniform(DATA_SCALE), 1);
    const workSeconds = Math.max(1, Math.round(calibration.secondsPerEpoch * epochs * dataScale));
    arrival += (-Math.log(1 - random()) * ARRIVAL_HOURS) / n;
    const fastestSeconds = Math.min(...offers.map((o) => secondsOn(workSeconds, p, o)));
    const cheapestCost = Math.min(
      ...offers.map((o) => (o.pricePerHour * secondsOn(workSeconds, p, o)) / 3600),
    );
    const withDeadline = random() < DEADLINE_SHARE;
    const factor = logUniform(withDeadline ? DEADLINE_FACTOR : BUDGET_FACTOR);
    const deadlineSeconds = withDeadline ? Math.round(fastestSeconds * factor) : null;
    return {
      index,
      epochs,
      dataScale,
      workSeconds,
      arrivalHours: round(arrival, 4),
      deadlineSeconds,
      budget: withDeadline ? null : round(cheapestCost * factor, 4),
      fastestSeconds: round(fastestSeconds, 1),
      cheapestCost: round(cheapestCost, 4),
      feasible: deadlineSeconds === null ? null : fastestSeconds <= deadlineSeconds,
    };
  });
}

/**
 * What each fixed configuration would do, from the simulated provider's own duration formula
 * (exact on on-demand nodes; Spot losses left out): deadlines met, budgets overrun, cost.
 * @param {OfferView[]} offers @param {Job[]} jobs @param {number} parallel
 */
function hindsightTable(offers, jobs, parallel) {
  return offers
    .map((o) => {
      let met = 0;
      let overruns = 0;
      let cost = 0;
      for (const j of jobs) {
        const s = secondsOn(j.workSeconds, parallel, o);
        const c = (o.pricePerHour * s) / 3600;
        cost += c;
        if (j.deadlineSeconds !== null && s <= j.deadlineSeconds) met++;
        if (j.budget !== null && c > j.budget) overruns++;
      }
      return {
        offer: offerKey(o),
        spot: o.spot,
        deadlinesMet: met,
        budgetOverruns: overruns,
        cost: round(cost, 2),
      };
    })
    .sort((a, b) => b.deadlinesMet - a.deadlinesMet || a.cost - b.cost);
}

/**
 * The arms: adaptive first (on a stack that has learned nothing yet), then the fixed ones.
 * @param {OfferView[]} offers @param {Job[]} jobs @param {number} parallel
 * @returns {Arm[]}
 */
function chooseArms(offers, jobs, parallel) {
  const onDemand = offers.filter((o) => !o.spot && o.gpus === 0);
  // Smallest first; among the same size the dearest first, so the last is the cheapest largest.
  const bySize = [...onDemand].sort(
    (a, b) => a.vCpu * a.speed - b.vCpu * b.speed || b.pricePerHour - a.pricePerHour,
  );
  // The smallest with full-speed vCPUs: a burstable type runs a CPU-bound job at its baseline
  // (10-40 % of a vCPU), meets no deadline and takes hours of real time to simulate; what it
  // would do is in the formula table (`hindsightPredicted`).
  const smallest = onDemand
    .filter((o) => o.speed >= 1)
    .sort(
      (a, b) => a.vCpu - b.vCpu || a.pricePerHour - b.pricePerHour || (a.name < b.name ? -1 : 1),
    )[0];
  const largest = bySize.at(-1);
  if (smallest === undefined || largest === undefined) throw new Error('no simulated offers');
  // In hindsight: the on-demand configuration meeting the most deadlines, cheapest among ties. A
  // Spot configuration's outcome depends on its losses; its on-demand twin meets at least as many.
  const best = hindsightTable(onDemand, jobs, parallel)[0];
  return [
    {
      name: 'adaptive',
      offer: null,
      why: 'deadline or budget on the run, provision to the auto-provisioner',
    },
    {
      name: 'smallest',
      offer: offerKey(smallest),
      why: 'the fewest vCPUs, cheapest of those, among types that run at full speed (not burstable)',
    },
    { name: 'user-pick', offer: USER_PICK, why: 'a mid-size compute type, what a user would pick' },
    { name: 'largest', offer: offerKey(largest), why: 'the most vCPUs, cheapest of those' },
    {
      name: 'best-fixed',
      offer: best?.offer ?? USER_PICK,
      why: 'in hindsight: meets the most deadlines, cheapest among ties (on-demand, by the simulation formula)',
    },
  ];
}

/**
 * A job's run: one step of simulated training. Adaptive: with its deadline or budget, and the
 * auto-provisioner to choose (the runtime model from a profiling run of two short sizes); fixed:
 * pinned, with neither.
 * @param {Job} job @param {Arm} arm @param {Calibration} calibration
 */
function runSpec(job, arm, calibration) {
  const step = {
    name: 'train',
    command: ['train'],
    env: {
      ACAI_SIM_SECONDS: String(job.workSeconds),
      ACAI_SIM_PARALLEL: String(calibration.parallel),
      ACAI_SIM_STEPS: String(SIM_STEPS),
      ACAI_SIM_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY),
    },
    resources: { memoryMb: 768 },
    provision: arm.offer === null ? adaptiveProvision(calibration) : { offer: arm.offer },
  };
  if (arm.offer !== null) return { name: `sched-${arm.name}-${job.index}`, steps: [step] };
  return {
    name: `sched-${arm.name}-${job.index}`,
    steps: [step],
    ...(job.deadlineSeconds !== null ? { deadline: job.deadlineSeconds } : {}),
    ...(job.budget !== null ? { budget: job.budget } : {}),
  };
}

/**
 * What the adaptive arm's steps say of their size: ACAI_SIM_SECONDS is the size parameter, and
 * its profiling run tries one epoch and the smallest job's epochs, at the smallest data scale.
 * @param {Calibration} calibration
 */
function adaptiveProvision(calibration) {
  const epoch = Math.max(1, Math.round(calibration.secondsPerEpoch * DATA_SCALE[0]));
  return {
    sizeParameters: ['ACAI_SIM_SECONDS'],
    profile: { ACAI_SIM_SECONDS: [String(epoch), String(epoch * EPOCHS[0])] },
  };
}

/** Maps real wall-clock times to the simulated provider's virtual clock (real time, scaled). */
class SimClock {
  /** @param {Awaited<ReturnType<typeof connect>>} nc */
  constructor(nc) {
    this.nc = nc;
    /** @type {{ wallMs: number; virtualMs: number } | null} */
    this.anchor = null;
  }

  /** @returns {Promise<SimulationStats>} */
  async stats() {
    return JSON.parse(
      (await this.nc.request('acai.ctl.simulation.stats', '', { timeout: 10_000 })).string(),
    );
  }

  /** Samples the clock a few times and keeps the sample with the shortest round trip. */
  async sync() {
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const before = Date.now();
      const s = await this.stats();
      const after = Date.now();
      if (after - before < best) {
        best = after - before;
        this.anchor = { wallMs: (before + after) / 2, virtualMs: Date.parse(s.now) };
      }
    }
  }

  /** Virtual epoch milliseconds at a real wall-clock time. @param {number} wallMs */
  virtual(wallMs) {
    if (this.anchor === null) throw new Error('SimClock.sync() first');
    return this.anchor.virtualMs + (wallMs - this.anchor.wallMs) * SPEEDUP;
  }
}

/**
 * @typedef {object} SimulationStats
 * @property {string} now
 * @property {{ launched: number; active: number; interrupted: number; cost: number; instanceHours: number; launchedByType: Record<string, number> }} cloud
 * @property {{ started: number; reattempts: number; succeeded: number; failed: number; lost: number; busyHours: number }} jobs
 */

/**
 * @typedef {object} JobOutcome
 * @property {number} index
 * @property {string | null} runId
 * @property {string | null} refused     why the run was refused at submit
 * @property {string} status             the run's end
 * @property {number | null} submitV     virtual ms just before its POST
 * @property {number | null} placedV     virtual ms of its first job.provisioned
 * @property {number | null} startV      virtual ms of its first job.started
 * @property {number | null} endV        virtual ms of job.succeeded
 * @property {number | null} runSeconds  its durationMs: the simulated running time of the last attempt
 * @property {number} bootSeconds        of the configuration it was first placed on
 * @property {number | null} trueSeconds the simulated provider's formula on that configuration, boot included
 * @property {boolean} cutOff            still going at the cut-off, and cancelled
 * @property {string[]} offers           where it ran, in order
 * @property {number} attempts
 * @property {number} cost               instance-time from placement to end at its price, USD
 * @property {number | null} acaiSpent   what acai's run view says it spent (runs with limits)
 * @property {string | null} budgetExhausted  why acai stopped it at its budget (run.budget_exhausted)
 * @property {number} rescales          times acai moved its job to another configuration
 * @property {number | null} predictedSeconds  the auto-provisioner's prediction
 * @property {string | null} rule
 */

/**
 * One arm: waits for the cloud to be empty, (adaptive) lets a first job profile the template,
 * submits every job at its arrival time, waits for their ends, and reads each job's history.
 * @param {{ ctx: BenchContext; home: string; client: import('./lib.mjs').Client; api: (m: 'GET' | 'POST', p: string, b?: unknown) => Promise<any>; sim: SimClock; runEnds: Map<string, string>; jobs: Job[]; arm: Arm; offers: OfferView[]; calibration: Calibration; isDead: () => string | undefined }} o
 */
async function runArm(o) {
  const { ctx, api, sim, runEnds, jobs, arm, calibration } = o;
  const say = ctx.say;
  /** @type {string[]} */
  const problems = [];
  await waitForIdleCloud(sim);
  await sim.sync();
  const before = await sim.stats();

  /** @type {{ cost: number; virtualHours: number; interruptions: number } | null} */
  let profiling = null;
  if (arm.offer === null) {
    // The first job of a template is profiled (a profiling run on a few configurations) before it
    // is placed; the profile is then the project's, as it would be for a user's second run.
    const probe = /** @type {Job} */ ({ ...jobs[0], deadlineSeconds: null, budget: null });
    const startedV = Date.parse((await sim.stats()).now);
    const { id } = await api('POST', '/api/v1/runs', {
      ...runSpec(probe, arm, calibration),
      name: `sched-${arm.name}-profile-probe`,
    });
    const deadline = performance.now() + 300_000;
    while (!runEnds.has(id) && performance.now() < deadline && o.isDead() === undefined)
      await new Promise((r) => setTimeout(r, 100));
    if (runEnds.get(id) !== 'run.succeeded')
      problems.push(`the profiling probe run ended ${runEnds.get(id) ?? 'never'}`);
    await waitForIdleCloud(sim);
    const after = await sim.stats();
    profiling = {
      cost: round(after.cloud.cost - before.cloud.cost, 4),
      virtualHours: round((Date.parse(after.now) - startedV) / 3_600_000, 2),
      interruptions: after.cloud.interrupted - before.cloud.interrupted,
    };
    say(
      `  ${arm.name}: the template profiled (profiling run, then the probe job) for $${profiling.cost}`,
    );
  }

  say(`  ${arm.name}: submitting ${jobs.length} runs over ${ARRIVAL_HOURS} virtual hours`);
  const cpuStart = cpuSnapshot(o.home);
  const t0 = performance.now();
  /** @type {JobOutcome[]} */
  const outcomes = jobs.map((j) => ({
    index: j.index,
    runId: null,
    refused: null,
    status: 'not submitted',
    submitV: null,
    placedV: null,
    startV: null,
    endV: null,
    runSeconds: null,
    bootSeconds: 0,
    trueSeconds: null,
    cutOff: false,
    offers: [],
    attempts: 0,
    cost: 0,
    acaiSpent: null,
    budgetExhausted: null,
    rescales: 0,
    predictedSeconds: null,
    rule: null,
  }));
  /** @type {Promise<void>[]} */
  const inFlight = [];
  let active = 0;
  for (const job of jobs) {
    const at = t0 + (job.arrivalHours * 3_600_000) / SPEEDUP;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (active >= SUBMIT_CONCURRENCY) await new Promise((r) => setTimeout(r, 5));
    active++;
    const outcome = /** @type {JobOutcome} */ (outcomes[job.index]);
    inFlight.push(
      (async () => {
        outcome.submitV = sim.virtual(Date.now());
        try {
          const r = await request(o.client, 'POST', '/api/v1/runs', runSpec(job, arm, calibration));
          if (r.status === 202) outcome.runId = JSON.parse(r.text).id;
          else {
            outcome.refused = `HTTP ${r.status}: ${r.text.slice(0, 400)}`;
            outcome.status = 'refused';
          }
        } catch (error) {
          outcome.refused = error instanceof Error ? error.message : String(error);
          outcome.status = 'refused';
        } finally {
          active--;
        }
      })(),
    );
  }
  await Promise.all(inFlight);
  const submitted = outcomes.filter((x) => x.runId !== null);
  const refused = outcomes.filter((x) => x.refused !== null);
  if (refused.length > 0)
    problems.push(`${refused.length} runs refused at submit, first: ${refused[0]?.refused}`);
  say(
    `  ${arm.name}: ${submitted.length} submitted in ${round((performance.now() - t0) / 1000, 1)} s` +
      (submitted.length < jobs.length ? `, ${jobs.length - submitted.length} refused` : ''),
  );
  // Wait for every run's end; give up when none has ended for longer than the longest job takes.
  const slowest = Math.max(
    ...jobs.flatMap((j) =>
      o.offers.map((offer) => secondsOn(j.workSeconds, calibration.parallel, offer)),
    ),
  );
  const longestReal = (slowest * 1000) / SPEEDUP;
  const stallMs = Math.max(60_000, longestReal * 1.5 + 30_000);
  let ended = 0;
  let lastProgress = performance.now();
  const cutOffAt = t0 + (CUTOFF_HOURS * 3_600_000) / SPEEDUP;
  let cutOff = false;
  for (;;) {
    const now = submitted.filter((x) => runEnds.has(/** @type {string} */ (x.runId))).length;
    if (now > ended) {
      ended = now;
      lastProgress = performance.now();
    }
    if (ended >= submitted.length) break;
    if (o.isDead() !== undefined) {
      problems.push(`a service died: ${o.isDead()}`);
      break;
    }
    if (!cutOff && performance.now() > cutOffAt) {
      cutOff = true;
      const going = submitted.filter((x) => !runEnds.has(/** @type {string} */ (x.runId)));
      say(
        `  ${arm.name}: cut-off at ${CUTOFF_HOURS} virtual hours: cancelling ${going.length} runs`,
      );
      for (const x of going) {
        x.cutOff = true;
        await api('POST', `/api/v1/runs/${x.runId}/cancel`, { reason: 'benchmark cut-off' }).catch(
          (/** @type {unknown} */ error) => {
            // It ended between the look and the cancel: nothing to cancel.
            if (!String(error).includes('RUN_ALREADY_ENDED'))
              problems.push(`cancelling ${x.runId}: ${String(error)}`);
          },
        );
      }
      lastProgress = performance.now();
    }
    if (performance.now() - lastProgress > stallMs) {
      problems.push(
        `no run ended for ${round(stallMs / 1000, 0)} s: ${ended} of ${submitted.length}`,
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const realSec = (performance.now() - t0) / 1000;
  const cpu = cpuUse(cpuStart, cpuSnapshot(o.home));
  await waitForIdleCloud(sim);
  const after = await sim.stats();

  // Each job's story, from its history: where it ran, its attempts, when it ended.
  for (const outcome of submitted) {
    const runId = /** @type {string} */ (outcome.runId);
    outcome.status = runEnds.get(runId) ?? 'not ended';
    const view = await api('GET', `/api/v1/runs/${runId}`);
    outcome.acaiSpent = view.limits?.spent ?? null;
    outcome.budgetExhausted = view.limits?.budgetExhausted ?? null;
    const jobId = view.jobs[0]?.id;
    if (jobId === undefined) continue;
    const history = /** @type {{ type: string; time: string; data: any }[]} */ (
      await api('GET', `/api/v1/jobs/${jobId}/history`)
    );
    /** @type {{ at: number; price: number } | null} */
    let placed = null;
    for (const e of history) {
      const at = sim.virtual(Date.parse(e.time));
      if (e.type === 'job.provisioned') {
        if (placed !== null) outcome.cost += (placed.price * (at - placed.at)) / 3_600_000;
        placed = { at, price: e.data.offer?.pricePerHour ?? 0 };
        if (outcome.placedV === null) {
          outcome.placedV = at;
          const offer = o.offers.find((x) => offerKey(x) === e.data.offer?.name);
          const job = /** @type {Job} */ (jobs[outcome.index]);
          outcome.bootSeconds = offer?.bootSeconds ?? 0;
          outcome.trueSeconds =
            offer === undefined ? null : secondsOn(job.workSeconds, calibration.parallel, offer);
        }
        // A Spot offer's name says so (`c5.large:spot`), as in provision.offer.
        outcome.offers.push(e.data.offer?.name ?? '?');
        outcome.predictedSeconds ??= e.data.decision?.predictedSeconds ?? null;
        outcome.rule ??= e.data.decision?.rule ?? null;
      } else if (e.type === 'job.rescale_requested') {
        outcome.rescales++;
      } else if (e.type === 'job.started') {
        outcome.attempts++;
        outcome.startV ??= at;
      } else if (
        e.type === 'job.succeeded' ||
        e.type === 'job.failed' ||
        e.type === 'job.cancelled'
      ) {
        if (e.type === 'job.succeeded') {
          outcome.endV = at;
          outcome.runSeconds = e.data.durationMs / 1000;
        }
        if (placed !== null) outcome.cost += (placed.price * (at - placed.at)) / 3_600_000;
        placed = null;
      }
    }
  }
  // A run acai stopped at its budget (nothing could finish it within it) kept its budget: it is
  // counted (`stoppedAtBudget`), not a failure of the benchmark.
  const failed = outcomes.filter(
    (x) =>
      x.runId !== null && x.status !== 'run.succeeded' && !x.cutOff && x.budgetExhausted === null,
  );
  if (failed.length > 0)
    problems.push(
      `${failed.length} runs did not succeed: ${[...new Set(failed.map((x) => x.status))].join(', ')}`,
    );
  return {
    outcomes,
    profiling,
    realSec: round(realSec, 1),
    cpu,
    cloud: {
      cost: round(after.cloud.cost - before.cloud.cost, 2),
      launched: after.cloud.launched - before.cloud.launched,
      interruptions: after.cloud.interrupted - before.cloud.interrupted,
      attemptsLost: after.jobs.lost - before.jobs.lost,
      instanceHours: round(after.cloud.instanceHours - before.cloud.instanceHours, 1),
      busyHours: round(after.jobs.busyHours - before.jobs.busyHours, 1),
    },
    problems,
  };
}

/** Waits until the simulated cloud has no instance left (idle ones are reaped on the virtual clock). @param {SimClock} sim */
async function waitForIdleCloud(sim) {
  for (let i = 0; i < 600; i++) {
    if ((await sim.stats()).cloud.active === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The arm's figures, from the jobs' outcomes and the cloud's bill.
 * @param {Arm} arm @param {Job[]} jobs @param {Awaited<ReturnType<typeof runArm>>} measured
 */
function summariseArm(arm, jobs, measured) {
  const { outcomes } = measured;
  /** @param {Job} j */
  const outcomeOf = (j) => /** @type {JobOutcome} */ (outcomes[j.index]);
  /** @param {Job} j */
  const met = (j) => {
    const x = outcomeOf(j);
    return (
      x.status === 'run.succeeded' &&
      x.endV !== null &&
      x.submitV !== null &&
      x.endV - x.submitV <= /** @type {number} */ (j.deadlineSeconds) * 1000
    );
  };
  const withDeadline = jobs.filter((j) => j.deadlineSeconds !== null);
  const feasible = withDeadline.filter((j) => j.feasible === true);
  const slack = feasible.filter(
    (j) => /** @type {number} */ (j.deadlineSeconds) >= 1.05 * j.fastestSeconds,
  );
  const withBudget = jobs.filter((j) => j.budget !== null);
  const overruns = withBudget.filter((j) => outcomeOf(j).cost > /** @type {number} */ (j.budget));
  const ends = outcomes.flatMap((x) => (x.endV === null ? [] : [x.endV]));
  const submits = outcomes.flatMap((x) => (x.submitV === null ? [] : [x.submitV]));
  /** @type {Record<string, number>} */
  const configurations = {};
  for (const x of outcomes) {
    const key = x.offers.join(' > ') || 'none';
    configurations[key] = (configurations[key] ?? 0) + 1;
  }
  const lateness = withDeadline.flatMap((j) => {
    const x = outcomeOf(j);
    return x.endV === null || x.submitV === null
      ? []
      : [(x.endV - x.submitV) / 1000 / /** @type {number} */ (j.deadlineSeconds)];
  });
  const spentByAcai = outcomes.flatMap((x) => (x.acaiSpent === null ? [] : [x.acaiSpent]));
  return {
    offer: arm.offer,
    why: arm.why,
    jobs: jobs.length,
    succeeded: outcomes.filter((x) => x.status === 'run.succeeded').length,
    stoppedAtBudget: outcomes.filter((x) => x.budgetExhausted !== null).length,
    rescaled: outcomes.filter((x) => x.rescales > 0).length,
    refused: outcomes.filter((x) => x.refused !== null).length,
    cutOff: outcomes.filter((x) => x.cutOff).length,
    refusals: [...new Set(outcomes.flatMap((x) => (x.refused === null ? [] : [x.refused])))].slice(
      0,
      5,
    ),
    deadlines: {
      jobs: withDeadline.length,
      feasible: feasible.length,
      met: withDeadline.filter(met).length,
      feasibleMet: feasible.filter(met).length,
      feasibleMetShare:
        feasible.length === 0 ? null : round(feasible.filter(met).length / feasible.length, 4),
      missedFeasible: feasible.filter((j) => !met(j)).map((j) => j.index),
      // Deadlines at least 5 % above the fastest time: not decided by seconds of dispatch lag.
      withSlack: slack.length,
      withSlackMet: slack.filter(met).length,
      elapsedOverDeadline: stats(lateness, 3),
    },
    budgets: {
      jobs: withBudget.length,
      overruns: overruns.length,
      overrunBy: overruns.map((j) => ({
        job: j.index,
        budget: j.budget,
        cost: round(outcomeOf(j).cost, 4),
        offers: outcomeOf(j).offers,
        attempts: outcomeOf(j).attempts,
      })),
    },
    cost: {
      cloudUsd: measured.cloud.cost,
      jobsUsd: round(
        outcomes.reduce((a, x) => a + x.cost, 0),
        2,
      ),
      acaiSpentUsd:
        spentByAcai.length === 0
          ? null
          : round(
              spentByAcai.reduce((a, b) => a + b, 0),
              2,
            ),
      profiling: measured.profiling,
    },
    makespanHours:
      ends.length === 0 ? null : round((Math.max(...ends) - Math.min(...submits)) / 3_600_000, 2),
    spot: {
      interruptions: measured.cloud.interruptions,
      attemptsLost: measured.cloud.attemptsLost,
      jobsWithMoreThanOneAttempt: outcomes.filter((x) => x.attempts > 1).length,
    },
    cloud: measured.cloud,
    configurations,
    prediction: predictionError(outcomes),
    // Submission to the first start, virtual seconds: the node's boot (if one was launched) and
    // the stack's real latency times the speed-up.
    submitToStartSec: stats(
      outcomes.flatMap((x) =>
        x.startV === null || x.submitV === null ? [] : [(x.startV - x.submitV) / 1000],
      ),
      0,
    ),
    realSec: measured.realSec,
    cpu: measured.cpu,
    outcomes: outcomes.map((x) => ({
      ...x,
      submitV: x.submitV === null ? null : new Date(x.submitV).toISOString(),
      placedV: x.placedV === null ? null : new Date(x.placedV).toISOString(),
      startV: x.startV === null ? null : new Date(x.startV).toISOString(),
      endV: x.endV === null ? null : new Date(x.endV).toISOString(),
      cost: round(x.cost, 4),
    })),
  };
}

/**
 * How far the auto-provisioner's predictions were from the simulated provider's own formula for
 * the configuration it chose (boot and running time, no Spot losses): MAPE over every predicted
 * job, and the worst; and how much longer placement to end really took than predicted (Spot
 * losses, the stack's latency stretched by the speed-up), as ratios.
 * @param {JobOutcome[]} outcomes
 */
function predictionError(outcomes) {
  const predicted = outcomes.filter((x) => x.predictedSeconds !== null && x.trueSeconds !== null);
  if (predicted.length === 0)
    return { jobs: 0, mape: null, worst: null, placedToEndOverPredicted: null };
  const errors = predicted.map((x) => {
    const truth = /** @type {number} */ (x.trueSeconds);
    return { error: Math.abs((x.predictedSeconds ?? 0) - truth) / truth, x };
  });
  const worst = errors.reduce((a, b) => (b.error > a.error ? b : a));
  const ended = predicted.filter((x) => x.endV !== null && x.placedV !== null);
  return {
    jobs: predicted.length,
    mape: round(errors.reduce((a, b) => a + b.error, 0) / errors.length, 4),
    worst: {
      job: worst.x.index,
      offer: worst.x.offers[0] ?? null,
      predictedSeconds: round(worst.x.predictedSeconds ?? 0, 0),
      formulaSeconds: round(worst.x.trueSeconds ?? 0, 0),
    },
    byOffer: Object.fromEntries(
      [...new Set(errors.map((e) => e.x.offers[0] ?? '?'))].map((offer) => {
        const of = errors.filter((e) => (e.x.offers[0] ?? '?') === offer);
        return [offer, round(of.reduce((a, b) => a + b.error, 0) / of.length, 4)];
      }),
    ),
    placedToEndOverPredicted: stats(
      ended.map((x) => ((x.endV ?? 0) - (x.placedV ?? 0)) / 1000 / (x.predictedSeconds ?? 1)),
      3,
    ),
  };
}

/** @typedef {ReturnType<typeof summariseArm> & { sameAs?: string }} ArmResult */

/**
 * The goal, judged on the adaptive arm against the fixed ones.
 * @param {Record<string, ArmResult>} results
 */
function judge(results) {
  const adaptive = results['adaptive'];
  if (adaptive === undefined) return { met: false, why: 'no adaptive arm' };
  const fixed = Object.entries(results).filter(([name]) => name !== 'adaptive');
  const asGood = fixed
    .filter(([, r]) => r.deadlines.met >= adaptive.deadlines.met)
    .sort(([, a], [, b]) => a.cost.cloudUsd - b.cost.cloudUsd)[0];
  const share = adaptive.deadlines.feasibleMetShare ?? 0;
  const ratio =
    asGood === undefined ? null : round(asGood[1].cost.cloudUsd / adaptive.cost.cloudUsd, 2);
  const parts = {
    feasibleDeadlinesMet: {
      value: share,
      goal: GOAL.feasibleDeadlinesMet,
      met: share >= GOAL.feasibleDeadlinesMet,
    },
    budgetOverruns: {
      value: adaptive.budgets.overruns,
      goal: GOAL.budgetOverruns,
      met: adaptive.budgets.overruns <= GOAL.budgetOverruns,
    },
    cheaperThanFixedAsGood: {
      value: ratio,
      against: asGood?.[0] ?? null,
      goal: GOAL.cheaperThanFixedAsGood,
      // No fixed configuration meets as many deadlines: adaptive is better on deadlines outright.
      met: ratio === null || ratio >= GOAL.cheaperThanFixedAsGood,
    },
  };
  return {
    met:
      parts.feasibleDeadlinesMet.met &&
      parts.budgetOverruns.met &&
      parts.cheaperThanFixedAsGood.met,
    ...parts,
  };
}

/** @param {ArmResult} r */
function describe(r) {
  return (
    `${r.deadlines.feasibleMet}/${r.deadlines.feasible} feasible deadlines met (${r.deadlines.met}/${r.deadlines.jobs} in all), ` +
    `${r.budgets.overruns}/${r.budgets.jobs} over budget (${r.stoppedAtBudget} stopped at it), $${r.cost.cloudUsd}, makespan ${r.makespanHours} h, ` +
    `${r.spot.interruptions} Spot losses, ${r.rescaled} jobs moved, ${r.realSec} s real`
  );
}

/**
 * @param {(line: string) => void} say
 * @param {Arm[]} arms
 * @param {Record<string, ArmResult>} results
 * @param {ReturnType<typeof judge>} verdict
 */
function printTable(say, arms, results, verdict) {
  const cols = arms.map((a) => /** @type {ArmResult} */ (results[a.name]));
  /** @type {[string, (r: ArmResult) => string, string][]} */
  const rows = [
    ['', (r) => r.offer ?? 'adaptive', 'goal'],
    [
      'feasible deadlines met',
      (r) =>
        `${r.deadlines.feasibleMet}/${r.deadlines.feasible} (${round((r.deadlines.feasibleMetShare ?? 0) * 100, 1)} %)`,
      `>= ${GOAL.feasibleDeadlinesMet * 100} % (adaptive)`,
    ],
    [
      '  with >= 5 % slack',
      (r) => `${r.deadlines.withSlackMet}/${r.deadlines.withSlack}`,
      'deadline >= 1.05 x the fastest time',
    ],
    ['all deadlines met', (r) => `${r.deadlines.met}/${r.deadlines.jobs}`, ''],
    ['budget overruns', (r) => `${r.budgets.overruns}/${r.budgets.jobs}`, '0 (adaptive)'],
    [
      'cost (cloud bill)',
      (r) => `$${r.cost.cloudUsd}`,
      `adaptive >= ${GOAL.cheaperThanFixedAsGood}x cheaper than the fixed as good`,
    ],
    ['makespan (virtual)', (r) => `${r.makespanHours} h`, ''],
    [
      'Spot interruptions',
      (r) => `${r.spot.interruptions} (${r.spot.attemptsLost} attempts lost)`,
      '',
    ],
    [
      'submit to start, p50',
      (r) => `${r.submitToStartSec.p50} s (p90 ${r.submitToStartSec.p90})`,
      'virtual: boot + the stack x speed-up',
    ],
    [
      'refused / cut off / failed',
      (r) => `${r.refused} / ${r.cutOff} / ${r.jobs - r.refused - r.cutOff - r.succeeded}`,
      `cut off: still going ${CUTOFF_HOURS} virtual h after the first submission`,
    ],
    ['real time', (r) => `${r.realSec} s`, ''],
  ];
  say('');
  say(`  ${''.padEnd(28)}${arms.map((a) => a.name.padEnd(24)).join('')}`);
  for (const [label, cell, goal] of rows)
    say(`  ${label.padEnd(28)}${cols.map((r) => cell(r).padEnd(24)).join('')}${goal}`);
  const adaptive = results['adaptive'];
  if (adaptive !== undefined) {
    say('');
    say(
      `  adaptive chose: ${Object.entries(adaptive.configurations)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    say(
      `  adaptive: runtime predictions off by ${adaptive.prediction.mape === null ? '?' : `${round(adaptive.prediction.mape * 100, 1)} %`} against the simulation's formula (MAPE over ${adaptive.prediction.jobs} jobs; worst ${JSON.stringify(adaptive.prediction.worst)}); placement to end took ${adaptive.prediction.placedToEndOverPredicted?.p50 ?? '?'}x the prediction (p50)`,
    );
    say(
      `  adaptive: profiling $${adaptive.cost.profiling?.cost ?? '?'} of the $${adaptive.cost.cloudUsd}; acai's own "spent" for these runs $${adaptive.cost.acaiSpentUsd ?? '?'} against $${adaptive.cost.jobsUsd} of instance-time`,
    );
  }
  const c = 'cheaperThanFixedAsGood' in verdict ? verdict.cheaperThanFixedAsGood : undefined;
  say(
    `  GOAL (${GOAL.text}): ${verdict.met ? 'MET' : 'NOT MET'}` +
      (c === undefined
        ? ''
        : c.against === null
          ? '; no fixed configuration meets as many deadlines as adaptive'
          : `; the fixed configuration meeting as many deadlines is ${c.against}, ${c.value}x adaptive's cost`),
  );
  say('');
}
