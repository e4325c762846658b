// @ts-check
// The `provisioning` benchmark: ACAI's auto-provisioner experiment, reproduced on this machine.
// The MNIST pipeline (examples/mnist: etl -> train -> evaluate) runs through the whole system on the
// local provider, every job under real cgroup CPU and memory limits, priced with the instance-type
// catalogue (USD per vCPU-hour and per GiB-hour fitted on c5/m5/r5/c6i list prices):
//   1. the auto-provisioner, starting from nothing: it profiles each step (short runs on a few
//      configurations), fits its runtime model, and chooses each step's configuration (best
//      time x cost); then again with `optimize: time` and `optimize: cost`, on the model it has;
//   2. every fixed configuration (each step pinned to the same one), i.e. what a user could pick
//      without acai; the default among them is named and argued below;
//   3. the oracle: for each step, the configuration that was best in step 2 by the same objective.
// It prints each one's time and cost side by side, the speed-up and cost reduction against the
// default, the profiling runs' own time and cost (counted against acai), the runtime model's
// prediction error on every fixed configuration (predicted before they ran), and the gap to the
// oracle. Goal (the ACAI paper): 1.7x faster and 39% cheaper than the default, within 10% of the oracle.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack } from '../../libs/devstack/dist/index.js';
import { runProgram } from './mnist-stack.mjs';
import { round } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

const CPUS = [0.5, 1, 1.5, 2];
const MEMORY_MB = [512, 1024, 2048];
/**
 * The default: one CPU (acai's default for a step) with the memory the heaviest step needs
 * (train asks for 768 MiB) rounded up to the next size, the same for every step, as a pipeline
 * gets when its author sizes it once for its largest step and moves on. It is not a straw man: it
 * is neither the slowest nor the most expensive configuration, and the table shows all of them.
 */
const DEFAULT = 'local-1cpu-1024mb';
const STEPS = ['etl', 'train', 'evaluate'];

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const { say } = ctx;
  const repeats = ctx.n ?? 1;
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-provisioning-'));
  say(`starting the stack in ${home}`);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    // A crash fails the benchmark rather than being restarted away.
    supervise: false,
    env: {
      ACAI_LOG_LEVEL: process.env['ACAI_LOG_LEVEL'] ?? 'info',
      ACAI_LOCAL_CPUS: '2',
      ACAI_LOCAL_CPU_SIZES: CPUS.join(','),
      ACAI_LOCAL_MEMORY_SIZES_MB: MEMORY_MB.join(','),
      // One job at a time: every measured job has the machine to itself.
      ACAI_EXECUTOR_SLOTS: '1',
    },
    nodeArgs: (process.env['ACAI_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    say: (line) => say(`  ${line}`),
  });
  let ok = false;
  /** @type {string[]} */
  const problems = [];
  try {
    const key = stack.key();
    /** @param {string} method @param {string} pathname @param {unknown} [body] */
    const api = async (method, pathname, body) => {
      const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
      return JSON.parse(text);
    };
    const offers =
      /** @type {{ name: string, vCpu: number, memoryMb: number, pricePerHour: number }[]} */ (
        (await api('GET', '/api/v1/instance-types')).offers
      );
    const priceOf = new Map(offers.map((o) => [o.name, o.pricePerHour]));
    say('importing MNIST');
    await runProgram(process.execPath, [path.join(ctx.root, 'examples/mnist/import.mjs')], {
      ACAI_URL: stack.gatewayUrl,
      ACAI_KEY: key,
    });
    const template = JSON.parse(
      readFileSync(path.join(ctx.root, 'examples/mnist/run.json'), 'utf8').replaceAll(
        '{{examples}}',
        await stack.examples(),
      ),
    );
    /** The pipeline with each step's `provision` (and `resources`) replaced. */
    const pipeline = (
      /** @type {string} */ name,
      /** @type {(step: any) => object | undefined} */ provisionOf,
    ) => ({
      ...template,
      name,
      steps: template.steps.map((/** @type {any} */ step) => {
        const { provision: _p, ...rest } = step;
        const provision = provisionOf(step);
        return provision === undefined ? rest : { ...rest, provision };
      }),
    });
    /** Runs a pipeline to its end; answers each step's configuration, seconds, cost and prediction. */
    const runPipeline = async (/** @type {any} */ spec) => {
      const started = Date.now();
      const submitted = await api('POST', '/api/v1/runs', spec);
      let view;
      for (;;) {
        view = await api('GET', `/api/v1/runs/${submitted.id}`);
        if (['succeeded', 'failed', 'cancelled'].includes(view.status)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      /** @type {Record<string, { offer: string | null, seconds: number | null, cost: number | null, predicted: number | null, status: string, reason: string | null }>} */
      const steps = {};
      for (const job of view.jobs) {
        const history = await api('GET', `/api/v1/jobs/${job.id}/history`);
        const provisioned = history.findLast(
          (/** @type {any} */ e) => e.type === 'job.provisioned',
        );
        const ended = history.findLast(
          (/** @type {any} */ e) => e.type === 'job.succeeded' || e.type === 'job.failed',
        );
        const offer = provisioned?.data.offer ?? null;
        const seconds = ended?.type === 'job.succeeded' ? ended.data.durationMs / 1000 : null;
        steps[job.name] = {
          offer: offer?.name ?? null,
          seconds,
          cost: seconds === null || offer === null ? null : (offer.pricePerHour * seconds) / 3600,
          predicted: provisioned?.data.decision?.predictedSeconds ?? null,
          status: job.status,
          reason: ended?.type === 'job.failed' ? ended.data.reason : null,
        };
      }
      return { status: view.status, wallSeconds: (Date.now() - started) / 1000, steps };
    };
    const totals = (
      /** @type {Record<string, { seconds: number | null, cost: number | null }>} */ steps,
    ) => {
      const values = STEPS.map((s) => steps[s]);
      if (values.some((v) => v === undefined || v.seconds === null || v.cost === null))
        return { seconds: null, cost: null };
      return {
        seconds: values.reduce((a, v) => a + (v?.seconds ?? 0), 0),
        cost: values.reduce((a, v) => a + (v?.cost ?? 0), 0),
      };
    };

    say('warm-up: one run as requested (page cache, JIT), not measured');
    await runPipeline(pipeline('mnist-warmup', () => undefined));

    // 1. The auto-provisioner, from nothing: it profiles every step first.
    const auto = (/** @type {object} */ extra) =>
      pipeline('mnist-auto', (step) =>
        step.name === 'train'
          ? { sizeParameters: ['EPOCHS'], profile: { EPOCHS: ['1', '2'] }, ...extra }
          : { profile: {}, ...extra },
      );
    say('acai: the auto-provisioner profiles each step, then chooses (best time x cost)');
    const first = await runPipeline(auto({}));
    const profilingRuns = (await api('GET', '/api/v1/runs?limit=100')).items.filter(
      (/** @type {any} */ r) => r.name.startsWith('profile-'),
    );
    let profilingSeconds = 0;
    let profilingCost = 0;
    let profilingJobs = 0;
    for (const profileRun of profilingRuns) {
      for (const job of profileRun.jobs) {
        const history = await api('GET', `/api/v1/jobs/${job.id}/history`);
        const offer = history.findLast((/** @type {any} */ e) => e.type === 'job.provisioned')?.data
          .offer;
        const ended = history.findLast((/** @type {any} */ e) => e.type === 'job.succeeded');
        if (ended === undefined || offer === undefined) continue;
        profilingJobs++;
        profilingSeconds += ended.data.durationMs / 1000;
        profilingCost += (offer.pricePerHour * ended.data.durationMs) / 1000 / 3600;
      }
    }
    /** @type {Record<string, Awaited<ReturnType<typeof runPipeline>>[]>} */
    const acai = { 'acai (time x cost)': [first] };
    for (let i = 1; i < repeats; i++) acai['acai (time x cost)'].push(await runPipeline(auto({})));
    say('acai: again with optimize=time and optimize=cost, on the model it has');
    acai['acai (optimize=time)'] = [await runPipeline(auto({ optimize: 'time' }))];
    acai['acai (optimize=cost)'] = [await runPipeline(auto({ optimize: 'cost' }))];

    // What the model predicts for every configuration, before any fixed configuration has run.
    /** @type {Record<string, Record<string, number | null>>} */
    const predicted = {};
    for (const step of auto({}).steps) {
      const { name: _n, needs: _needs, ...rest } = step;
      const plan = await api('POST', '/api/v1/provision/plan', { name: step.name, ...rest });
      predicted[step.name] = Object.fromEntries(
        plan.alternatives.map((/** @type {any} */ a) => [a.offer, a.predictedSeconds]),
      );
    }

    // 2. Every fixed configuration.
    /** @type {Record<string, Awaited<ReturnType<typeof runPipeline>>[]>} */
    const fixed = {};
    for (const offer of offers) {
      say(`fixed: every step on ${offer.name}`);
      fixed[offer.name] = [];
      for (let i = 0; i < repeats; i++)
        fixed[offer.name].push(
          await runPipeline(pipeline('mnist-fixed', () => ({ offer: offer.name }))),
        );
    }

    /** Mean over repeats of each step's seconds (null when a repeat failed). */
    const meanSteps = (/** @type {Awaited<ReturnType<typeof runPipeline>>[]} */ runs) => {
      /** @type {Record<string, { offer: string | null, seconds: number | null, cost: number | null, status: string, reason: string | null }>} */
      const out = {};
      for (const step of STEPS) {
        const all = runs.map((r) => r.steps[step]);
        const seconds = all.every((s) => s?.seconds != null)
          ? all.reduce((a, s) => a + (s?.seconds ?? 0), 0) / all.length
          : null;
        const offer = all[0]?.offer ?? null;
        out[step] = {
          offer,
          seconds,
          cost:
            seconds === null || offer === null
              ? null
              : ((priceOf.get(offer) ?? 0) * seconds) / 3600,
          status: all.map((s) => s?.status).join('/'),
          reason: all.find((s) => s?.reason)?.reason ?? null,
        };
      }
      return out;
    };

    const rows =
      /** @type {{ label: string, steps: ReturnType<typeof meanSteps>, seconds: number | null, cost: number | null }[]} */ ([]);
    for (const [label, runs] of Object.entries(fixed)) {
      const steps = meanSteps(runs);
      rows.push({ label, steps, ...totals(steps) });
    }
    // 3. The oracle: per step, the fixed configuration with the best measured time x cost among
    // those the auto-provisioner may choose (at least the memory the step asks for).
    const memoryOf = new Map(offers.map((o) => [o.name, o.memoryMb]));
    const minMemory = Object.fromEntries(
      template.steps.map((/** @type {any} */ st) => [st.name, st.resources?.memoryMb ?? 512]),
    );
    /** @type {ReturnType<typeof meanSteps>} */
    const oracleSteps = {};
    for (const step of STEPS) {
      let best;
      for (const row of rows) {
        const s = row.steps[step];
        if (s?.seconds == null || s.cost == null) continue;
        if ((memoryOf.get(row.label) ?? 0) < (minMemory[step] ?? 0)) continue;
        if (best === undefined || s.seconds * s.cost < (best.seconds ?? 0) * (best.cost ?? 0))
          best = s;
      }
      if (best !== undefined) oracleSteps[step] = best;
    }
    const acaiRows = Object.entries(acai).map(([label, runs]) => {
      const steps = meanSteps(runs);
      return { label, steps, ...totals(steps) };
    });
    const oracle = { label: 'oracle (time x cost)', steps: oracleSteps, ...totals(oracleSteps) };
    // acai's choices timed in the fixed runs: the same measurements as the oracle's, so the gap is
    // the choice alone, not run-to-run noise.
    /** @type {ReturnType<typeof meanSteps>} */
    const sameBasisSteps = {};
    for (const step of STEPS) {
      const offer = acaiRows[0]?.steps[step]?.offer;
      const fixedRow = rows.find((r) => r.label === offer);
      const s = fixedRow?.steps[step];
      if (s !== undefined) sameBasisSteps[step] = s;
    }
    const sameBasis = {
      label: 'acai, timed in fixed runs',
      steps: sameBasisSteps,
      ...totals(sameBasisSteps),
    };
    /** Sum over steps of each step's time x cost: the objective the choices were made by. */
    const stepObjective = (/** @type {ReturnType<typeof meanSteps>} */ steps) =>
      STEPS.reduce((a, st) => a + (steps[st]?.seconds ?? NaN) * (steps[st]?.cost ?? NaN), 0);
    const defaultRow = rows.find((r) => r.label === DEFAULT);
    const chosen = acaiRows[0];

    // Prediction error on every fixed configuration that ran, per step.
    /** @type {{ step: string, offer: string, predicted: number, actual: number }[]} */
    const pairs = [];
    for (const row of rows) {
      for (const step of STEPS) {
        const actual = row.steps[step]?.seconds;
        const p = predicted[step]?.[row.label];
        if (actual != null && p != null)
          pairs.push({ step, offer: row.label, predicted: p, actual });
      }
    }
    const mape = (/** @type {typeof pairs} */ list) =>
      list.length === 0
        ? null
        : list.reduce((a, p) => a + Math.abs(p.predicted - p.actual) / p.actual, 0) / list.length;
    const mapeByStep = Object.fromEntries(
      STEPS.map((s) => [s, mape(pairs.filter((p) => p.step === s))]),
    );

    // The table.
    const fmt = (/** @type {number | null | undefined} */ x, /** @type {number} */ d) =>
      x == null ? '-' : x.toFixed(d);
    const line = (/** @type {(typeof rows)[number]} */ r) =>
      `${r.label.padEnd(24)} ${STEPS.map((s) => `${(r.steps[s]?.offer ?? '').replace('local-', '').padEnd(13)} ${fmt(r.steps[s]?.seconds, 1).padStart(5)}`).join('  ')}  ${fmt(r.seconds, 1).padStart(6)} s  $${fmt(r.cost === null ? null : r.cost * 1e6, 1).padStart(6)}e-6`;
    say('');
    say(
      `${'configuration'.padEnd(24)} ${STEPS.map((s) => `${s.padEnd(13)} ${'s'.padStart(5)}`).join('  ')}  ${'total'.padStart(8)}  ${'cost'.padStart(11)}`,
    );
    for (const row of rows) say(`${line(row)}${row.label === DEFAULT ? '   <- default' : ''}`);
    for (const row of acaiRows) say(line(row));
    say(line(oracle));
    say(line(sameBasis));
    const speedup =
      defaultRow?.seconds && chosen?.seconds ? defaultRow.seconds / chosen.seconds : null;
    const costReduction =
      defaultRow?.cost && chosen?.cost ? 1 - chosen.cost / defaultRow.cost : null;
    const objective = (/** @type {{ seconds: number | null, cost: number | null }} */ r) =>
      r.seconds === null || r.cost === null ? null : r.seconds * r.cost;
    const oracleGapRaw = stepObjective(sameBasisSteps) / stepObjective(oracleSteps) - 1;
    const oracleGap = Number.isFinite(oracleGapRaw) ? oracleGapRaw : null;
    void objective;
    say('');
    say(
      `acai vs default (${DEFAULT}): ${fmt(speedup, 2)}x faster (goal 1.7x), ${fmt(costReduction === null ? null : costReduction * 100, 1)}% cheaper (goal 39%)`,
    );
    say(
      `acai's choices vs the oracle's, both timed in the fixed runs: time ${fmt(sameBasis.seconds && oracle.seconds ? (sameBasis.seconds / oracle.seconds - 1) * 100 : null, 1)}%, cost ${fmt(sameBasis.cost && oracle.cost ? (sameBasis.cost / oracle.cost - 1) * 100 : null, 1)}%, per-step time x cost ${fmt(oracleGap === null ? null : oracleGap * 100, 1)}% (goal within 10%); same steps as the oracle: ${STEPS.filter((st) => sameBasisSteps[st]?.offer === oracleSteps[st]?.offer).join(', ') || 'none'}`,
    );
    const fastest = rows.reduce(
      (best, r) =>
        r.seconds !== null && (best === undefined || r.seconds < (best.seconds ?? Infinity))
          ? r
          : best,
      /** @type {(typeof rows)[number] | undefined} */ (undefined),
    );
    const cheapest = rows.reduce(
      (best, r) =>
        r.cost !== null && (best === undefined || r.cost < (best.cost ?? Infinity)) ? r : best,
      /** @type {(typeof rows)[number] | undefined} */ (undefined),
    );
    say(
      `for scale: the fastest fixed configuration (${fastest?.label}) is ${fmt(defaultRow?.seconds && fastest?.seconds ? defaultRow.seconds / fastest.seconds : null, 2)}x faster than the default, the cheapest (${cheapest?.label}) ${fmt(defaultRow?.cost && cheapest?.cost ? (1 - cheapest.cost / defaultRow.cost) * 100 : null, 1)}% cheaper`,
    );
    say(
      `profiling (counted against acai): ${profilingJobs} runs, ${fmt(profilingSeconds, 1)} s, $${fmt(profilingCost * 1e6, 1)}e-6; first pipeline with its profiling: ${fmt((chosen?.seconds ?? 0) + profilingSeconds, 1)} s, $${fmt(((chosen?.cost ?? 0) + profilingCost) * 1e6, 1)}e-6`,
    );
    say(
      `runtime model, predicted before the fixed runs vs measured on all ${pairs.length} (configuration, step) pairs: MAPE ${STEPS.map((s) => `${s} ${fmt((mapeByStep[s] ?? 0) * 100, 1)}%`).join(', ')}; all ${fmt((mape(pairs) ?? 0) * 100, 1)}%`,
    );
    for (const row of [...rows, ...acaiRows]) {
      for (const step of STEPS) {
        const s = row.steps[step];
        if (s !== undefined && s.seconds === null)
          say(
            `note: ${row.label} ${step} did not succeed (${s.status}${s.reason ? `: ${s.reason}` : ''})`,
          );
      }
    }
    if (defaultRow?.seconds == null)
      problems.push(`the default configuration ${DEFAULT} did not run through`);
    if (chosen?.seconds == null) problems.push('the auto-provisioned pipeline did not run through');

    const file = ctx.writeResult('provisioning', {
      benchmark: 'provisioning',
      machine: ctx.machine(),
      repeats,
      default: DEFAULT,
      configurations: rows,
      acai: acaiRows,
      oracle,
      acaiTimedInFixedRuns: sameBasis,
      speedup,
      costReduction,
      oracleGap,
      goal: { speedup: 1.7, costReduction: 0.39, oracleGap: 0.1 },
      profiling: { runs: profilingJobs, seconds: profilingSeconds, cost: profilingCost },
      mape: { all: mape(pairs), byStep: mapeByStep, pairs },
      predictedBeforeFixedRuns: predicted,
      notes: [
        'Time is the sum of the steps’ running times (job.succeeded durationMs: staging, process, saving outputs), what a user pays for; cost = the configuration’s price per hour × that time.',
        'Prices: local slots are priced as vCPU × $/vCPU-hour + GiB × $/GiB-hour fitted on the EC2 catalogue (GET /api/v1/instance-types).',
        `Default: ${DEFAULT} for every step (see the comment in test/bench/provisioning.mjs for why).`,
        'The oracle picks, per step, the fixed configuration with the best measured time × cost (the objective the auto-provisioner used) among those with at least the memory the step asks for; the gap compares acai’s choices and the oracle’s on the same (fixed-run) measurements, summing each step’s time × cost.',
        'MAPE compares the model’s predictions, taken after the auto-provisioned runs and before any fixed configuration ran, with the measured times.',
        ...problems.map((p) => `PROBLEM: ${p}`),
      ],
    });
    say(`wrote ${file}`);
    ok = problems.length === 0;
    return { ok, file };
  } finally {
    say('stopping the stack');
    await stack.stop();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`logs and state kept in ${home}`);
  }
}
