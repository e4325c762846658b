// @ts-check
// The `scheduling` benchmark's real round: the MNIST pipeline (etl, train, evaluate) on the local
// provider under a deadline that training on 1 CPU misses. Three arms on one stack, alternated:
//
// - fixed 1 CPU: train as requested on 1 CPU, no deadline given (judged against it afterwards);
// - fixed 2 CPU: the same on 2 CPUs;
// - acai: train asked on 1 CPU, the run given the deadline: acai measures its pace, predicts the
//   miss and moves it to 2 CPUs, where it resumes from its checkpoint.
//
// The deadline is set from the fixed arms' own times, measured first on this machine: halfway
// between the 2-CPU and the 1-CPU run (so 1 CPU misses it and 2 CPUs meet it). Per arm: the run's
// wall time (submit -> end event), deadline met, cost (each attempt's running time × the price of
// its slot, from the jobs' histories), rescales, and train's test accuracy.
import os from 'node:os';
import { rmSync } from 'node:fs';
import { round } from './lib.mjs';
import { startMnistStack } from './mnist-stack.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {'fixed 1 CPU' | 'fixed 2 CPU' | 'acai (1 CPU, rescaling)'} Arm */

const EPOCHS = process.env['ACAI_BENCH_RESCALE_EPOCHS'] ?? '40';
const RUN_TIMEOUT_MS = 15 * 60_000;
/** @type {Arm[]} */
const ARMS = ['fixed 1 CPU', 'fixed 2 CPU', 'acai (1 CPU, rescaling)'];

/**
 * Runs the round on its own stack and answers its figures (the caller writes them).
 * @param {BenchContext} ctx
 * @param {number} repeats
 */
export async function mnistRescaleRound(ctx, repeats) {
  const { say } = ctx;
  const bench = await startMnistStack(ctx, 'rescale');
  /** @type {string[]} */
  const problems = [];
  let ok = false;
  try {
    const template = bench.spec('run.json');
    /**
     * The example with train as requested on `cpu` CPUs for `epochs` epochs; a deadline if given.
     * @param {string} name @param {number} cpu @param {string | undefined} deadline
     */
    const specOf = (name, cpu, deadline, epochs = EPOCHS) => ({
      ...template,
      name,
      ...(deadline === undefined ? {} : { deadline }),
      steps: template.steps.map((/** @type {any} */ s) => {
        if (s.name !== 'train') return s;
        const { provision: _p, ...rest } = s;
        return {
          ...rest,
          resources: { ...s.resources, cpu },
          env: { ...s.env, EPOCHS: epochs },
        };
      }),
    });

    say('warm-up: one epoch on 1 CPU (not measured)');
    const warm = await bench.submitAndWait(
      specOf('rescale-warmup', 1, undefined, '1'),
      RUN_TIMEOUT_MS,
    );
    if (warm.endType !== 'run.succeeded') problems.push(`warm-up ended ${warm.endType}`);

    // The deadline, from this machine's own times.
    say(`calibrating: train ${EPOCHS} epochs on 1 CPU, then on 2 CPUs, no deadline`);
    const one = await measure(
      bench,
      await bench.submitAndWait(specOf('calibrate-1cpu', 1, undefined), RUN_TIMEOUT_MS),
      null,
    );
    const two = await measure(
      bench,
      await bench.submitAndWait(specOf('calibrate-2cpu', 2, undefined), RUN_TIMEOUT_MS),
      null,
    );
    if (one.status !== 'succeeded' || two.status !== 'succeeded')
      problems.push(`calibration runs ended ${one.status} and ${two.status}`);
    const deadlineSec = Math.round((one.wallSec + two.wallSec) / 2);
    say(
      `  1 CPU ${one.wallSec} s, 2 CPUs ${two.wallSec} s: the deadline is ${deadlineSec} s from submission`,
    );

    /** @type {(Awaited<ReturnType<typeof measure>> & { arm: Arm })[]} */
    const results = [];
    for (let i = 0; i < repeats; i++) {
      const order = i % 2 === 0 ? ARMS : [...ARMS].reverse();
      for (const arm of order) {
        if (bench.died() !== undefined) break;
        const cpu = arm === 'fixed 2 CPU' ? 2 : 1;
        const deadline = arm.startsWith('acai') ? `${deadlineSec}s` : undefined;
        say(`round ${i + 1}/${repeats}: ${arm}`);
        const submitted = await bench.submitAndWait(
          specOf(`rescale-${arm.split(' ')[0]}-${cpu}cpu`, cpu, deadline),
          RUN_TIMEOUT_MS,
        );
        const result = { arm, ...(await measure(bench, submitted, deadlineSec)) };
        results.push(result);
        say(
          `  ${result.runId} ${result.status} in ${result.wallSec} s (deadline ${deadlineSec} s: ${result.deadlineMet ? 'met' : 'missed'}), ` +
            `$${result.cost}, ${result.rescales.length} rescale(s)${result.rescales.map((r) => ` ${r.from} -> ${r.to} after epoch ${r.step}`).join('')}, ` +
            `accuracy ${result.accuracy ?? '-'}`,
        );
        if (result.status !== 'succeeded')
          problems.push(`${arm} run ${result.runId} ${result.status}`);
      }
    }
    if (bench.died() !== undefined) problems.push(`a service died: ${bench.died()}`);
    const acaiRuns = results.filter((r) => r.arm.startsWith('acai'));
    if (acaiRuns.some((r) => r.rescales.length === 0))
      problems.push('an acai run was not rescaled: its 1-CPU pace did not predict the miss');

    const summary = Object.fromEntries(
      ARMS.map((arm) => {
        const runs = results.filter((r) => r.arm === arm);
        return [
          arm,
          {
            runs: runs.length,
            deadlinesMet: runs.filter((r) => r.deadlineMet).length,
            meanWallSec: mean(runs.map((r) => r.wallSec)),
            meanCost: mean(
              runs.map((r) => r.cost),
              5,
            ),
            meanAccuracy: mean(
              runs.flatMap((r) => (r.accuracy === null ? [] : [r.accuracy])),
              4,
            ),
          },
        ];
      }),
    );
    say('');
    say(
      `MNIST, ${EPOCHS} epochs, deadline ${deadlineSec} s (1 CPU measured ${one.wallSec} s, 2 CPUs ${two.wallSec} s)`,
    );
    say('arm                        runs  deadlines met  mean wall s  mean cost $  accuracy');
    for (const arm of ARMS) {
      const s = summary[arm];
      say(
        `${arm.padEnd(27)}${String(s.runs).padStart(4)}  ${`${s.deadlinesMet}/${s.runs}`.padStart(13)}  ${String(s.meanWallSec).padStart(11)}  ${String(s.meanCost).padStart(11)}  ${s.meanAccuracy}`,
      );
    }
    ok = problems.length === 0;
    return {
      ok,
      problems,
      figures: {
        epochs: Number(EPOCHS),
        deadlineSec,
        calibration: { oneCpu: one, twoCpu: two },
        summary,
        runs: results,
        natsServer: bench.natsVersion(),
        loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)),
      },
    };
  } finally {
    await bench.close();
    if (ok && !ctx.keep) rmSync(bench.home, { recursive: true, force: true });
    else say(`logs and state kept in ${bench.home}`);
  }
}

/**
 * A run's figures, read back through the gateway once its views have its end.
 * @param {Awaited<ReturnType<typeof startMnistStack>>} bench
 * @param {Awaited<ReturnType<Awaited<ReturnType<typeof startMnistStack>>['submitAndWait']>>} submitted
 * @param {number | null} deadlineSec
 */
async function measure(bench, submitted, deadlineSec) {
  const wallSec =
    submitted.endedAt === null
      ? Infinity
      : round((submitted.endedAt - submitted.submittedAt) / 1000, 1);
  let view;
  for (let i = 0; i < 100; i++) {
    view = await bench.api('GET', `/api/v1/runs/${submitted.id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(view.status) || submitted.endType === null)
      break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  let cost = 0;
  /** @type {{ from: string; to: string; step: number; reason: string; predictedFinish: string | null; finishBy: string | null }[]} */
  const rescales = [];
  let trainSec = null;
  for (const job of view.jobs) {
    const history = /** @type {{ type: string; time: string; data: any }[]} */ (
      await bench.api('GET', `/api/v1/jobs/${job.id}/history`)
    );
    let price = 0;
    for (const entry of history) {
      if (entry.type === 'job.provisioned') price = entry.data.offer?.pricePerHour ?? 0;
      if (
        ['job.succeeded', 'job.failed', 'job.rescaled', 'job.retry_scheduled'].includes(entry.type)
      )
        cost += ((entry.data.durationMs ?? 0) / 3_600_000) * price;
      if (entry.type === 'job.rescale_requested') {
        rescales.push({
          from: entry.data.from.name,
          to: entry.data.to.name,
          step: entry.data.measurements.step,
          reason: entry.data.reason,
          predictedFinish: entry.data.from.predictedFinish,
          finishBy: entry.data.finishBy,
        });
      }
    }
    if (job.name === 'train') {
      const started = history.find((e) => e.type === 'job.started');
      const ended = history.findLast((e) => e.type === 'job.succeeded');
      if (started !== undefined && ended !== undefined)
        trainSec = round((Date.parse(ended.time) - Date.parse(started.time)) / 1000, 1);
    }
  }
  let accuracy = null;
  try {
    const report = await bench.api(
      'GET',
      '/api/v1/filesets/mnist-report/versions/latest/files/report.json',
    );
    accuracy = typeof report.accuracy === 'number' ? round(report.accuracy, 4) : null;
  } catch {
    accuracy = null;
  }
  return {
    runId: submitted.id,
    status: /** @type {string} */ (view.status),
    wallSec,
    trainSec,
    deadlineMet: deadlineSec === null ? null : wallSec <= deadlineSec,
    cost: round(cost, 6),
    rescales,
    accuracy,
  };
}

/** @param {number[]} values @param {number} [digits] */
function mean(values, digits = 1) {
  return values.length === 0
    ? null
    : round(values.reduce((a, b) => a + b, 0) / values.length, digits);
}

/**
 * The round alone (`npm run bench -- rescale`): its figures in bench/results/rescale.json.
 * @param {BenchContext} ctx
 */
export async function run(ctx) {
  const round = await mnistRescaleRound(ctx, ctx.n ?? 1);
  const file = ctx.writeResult('rescale', {
    benchmark: 'rescale',
    date: new Date().toISOString(),
    machine: ctx.machine(),
    ...round.figures,
    notes: [
      'wallSec: POST /api/v1/runs -> the run’s end event on the bus (etl, train, evaluate).',
      'deadlineSec: halfway between the calibration runs on 1 and 2 CPUs, from submission; only the acai arm is given it (the fixed arms are judged against it).',
      'cost: each attempt’s running time × the price of its local slot (catalogue prices for the same vCPUs and memory).',
      ...round.problems.map((p) => `PROBLEM: ${p}`),
    ],
  });
  for (const p of round.problems) ctx.say(`PROBLEM: ${p}`);
  return { ok: round.ok, file };
}
