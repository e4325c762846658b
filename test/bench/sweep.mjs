// @ts-check
// The `sweep` benchmark: the MNIST sweep (examples/mnist/sweep.json: 8 trials over LEARNING_RATE x
// HIDDEN, 2 at a time, 4 epochs each, then evaluate on the best trial's model) through the whole
// stack, with its median-rule early stopping on and, as the baseline, with `earlyStopping` removed
// so that every trial runs to its last epoch. Same stack, same data, same machine, alternated.
// For each run: wall time (submit -> the run's end event), the time until the best trial's last
// epoch ended (the best model existed from then on), the best trial and its loss, the test accuracy
// evaluate reported on it, the trials stopped early and at which epoch, the trial-epochs trained
// and the trials' running seconds, and each process's CPU-seconds.
import { rmSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { countLogLines, cpuSnapshot, cpuUse, round } from './lib.mjs';
import { startMnistStack } from './mnist-stack.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */
/** @typedef {'early stopping' | 'baseline'} Mode */

/** A sweep that has not ended after this long is given up on (the whole sweep takes minutes). */
const RUN_TIMEOUT_MS = 30 * 60_000;
const SWEPT_STEP = 'train';
/** After a run's end event, how long its views may take to show it. */
const READ_MODEL_WAIT_MS = 30_000;

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const { say } = ctx;
  const repeats = ctx.n ?? 1;
  const loadAverageAtStart = os.loadavg().map((x) => round(x, 2));
  const bench = await startMnistStack(ctx, 'sweep');
  const { home, stack, api } = bench;
  let ok = false;
  /** @type {string[]} */
  const problems = [];
  try {
    const template = bench.spec('sweep.json');
    const trainOf = (/** @type {any} */ spec) =>
      spec.steps.find((/** @type {any} */ s) => s.name === SWEPT_STEP);
    const templateTrain = trainOf(template);
    if (templateTrain?.sweep?.earlyStopping === undefined)
      throw new Error('examples/mnist/sweep.json: its train step has no sweep.earlyStopping');
    /** The example's spec, named `name`, with its train step changed by `change`. */
    const withSweep = (/** @type {string} */ name, /** @type {(train: any) => any} */ change) => ({
      ...template,
      name,
      steps: template.steps.map((/** @type {any} */ s) => (s.name === SWEPT_STEP ? change(s) : s)),
    });
    /** @type {Record<Mode, any>} */
    const specs = {
      'early stopping': withSweep('mnist-sweep', (s) => s),
      baseline: withSweep('mnist-sweep-no-early-stopping', (s) => {
        const { earlyStopping: _e, ...sweep } = s.sweep;
        return { ...s, sweep };
      }),
    };

    /** @param {any} spec */
    const submitAndWait = async (spec) => {
      const submitted = await bench.submitAndWait(spec, RUN_TIMEOUT_MS);
      return {
        ...submitted,
        sweepCompletedAt: submitted.events.get('run.sweep_completed') ?? null,
      };
    };

    // Warm-up, not measured: the page cache, the examples' first start, each service's first run.
    say('warm-up: the sweep cut to one trial of one epoch (not measured)');
    const warm = await submitAndWait(
      withSweep('mnist-sweep-warmup', (s) => ({
        ...s,
        env: { ...s.env, EPOCHS: '1' },
        sweep: { ...s.sweep, grid: { LEARNING_RATE: ['0.1'], HIDDEN: ['32'] } },
      })),
    );
    if (warm.endType !== 'run.succeeded')
      problems.push(`warm-up run ${warm.id} ended ${warm.endType ?? 'never'}`);

    // Alternated: early stopping first in odd rounds, the baseline first in even ones.
    /** @type {Mode[]} */
    const order = [];
    for (let i = 0; i < repeats; i++)
      order.push(
        ...(i % 2 === 0
          ? /** @type {Mode[]} */ (['early stopping', 'baseline'])
          : /** @type {Mode[]} */ (['baseline', 'early stopping'])),
      );
    /** @type {Awaited<ReturnType<typeof measure>>[]} */
    const results = [];
    for (const [i, mode] of order.entries()) {
      if (bench.died() !== undefined) break;
      say(`run ${i + 1}/${order.length}: ${mode}`);
      const before = cpuSnapshot(home);
      const loadBefore = os.loadavg().map((x) => round(x, 2));
      const submitted = await submitAndWait(specs[mode]);
      const after = cpuSnapshot(home);
      const result = await measure(api, mode, submitted, cpuUse(before, after), loadBefore);
      results.push(result);
      say(
        `  ${result.runId} ${result.status} in ${result.wallSec} s; best ${result.best?.name ?? '-'} ` +
          `(${paramsText(result.best?.params)}) loss ${result.best?.loss ?? '-'} at ${result.timeToBestSec ?? '-'} s; ` +
          `test accuracy ${result.testAccuracy ?? '-'}; ${result.stoppedEarly} stopped early; ` +
          `${result.trialEpochs} trial-epochs`,
      );
      for (const p of result.problems) problems.push(`${mode} run ${result.runId}: ${p}`);
    }
    if (bench.died() !== undefined) problems.push(`a service died: ${bench.died()}`);
    const baselineStopped = results
      .filter((r) => r.mode === 'baseline')
      .reduce((a, r) => a + r.stoppedEarly, 0);
    if (baselineStopped > 0)
      problems.push(`${baselineStopped} trials of the baseline were stopped early`);

    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const logWarnings = countLogLines(stack.logDir, /"level":("warn"|40)\b/);
    const errorCount = Object.values(logErrors).reduce((a, b) => a + b, 0);
    if (errorCount > 0)
      problems.push(
        `service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)} (see ${stack.logDir})`,
      );

    const summary = {
      'early stopping': summarise(results.filter((r) => r.mode === 'early stopping')),
      baseline: summarise(results.filter((r) => r.mode === 'baseline')),
    };
    printTable(say, results, summary, repeats);
    const noisy = results.filter((r) => r.cpu.otherBusySec > r.cpu.wallSec * 0.25);
    if (noisy.length > 0)
      say(
        `NOTE: processes outside this stack took ${noisy.map((r) => `${r.cpu.otherBusySec} CPU-s in ${r.cpu.wallSec} s (${r.mode})`).join(', ')}: the times are noisy`,
      );
    for (const p of problems) say(`PROBLEM: ${p}`);

    const file = ctx.writeResult('sweep', {
      benchmark: 'sweep',
      date: new Date().toISOString(),
      machine: {
        ...ctx.machine(),
        natsServer: bench.natsVersion(),
        loadAverageAtStart,
        loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)),
      },
      repeats,
      order,
      sweep: {
        grid: templateTrain.sweep.grid,
        maxParallel: templateTrain.sweep.maxParallel ?? null,
        objective: templateTrain.sweep.objective,
        earlyStopping: templateTrain.sweep.earlyStopping,
        epochs: Number(templateTrain.env?.EPOCHS),
        resources: templateTrain.resources ?? null,
      },
      summary,
      runs: results,
      warmup: { runId: warm.id, endType: warm.endType },
      serviceLogErrorLines: logErrors,
      serviceLogWarnLines: logWarnings,
      notes: [
        'wallSec: POST /api/v1/runs -> the run’s end event on the bus (etl, the 8 trials, evaluate).',
        'timeToBestSec: submit -> the time of the best trial’s last loss point (its last epoch ended; the model it saved is the one evaluate scores). bestSavedSec: submit -> its job.succeeded (model committed).',
        'sweepDoneSec: submit -> run.sweep_completed (every trial ended, the best chosen).',
        'trialEpochs: epochs each trial reported (points of its `loss` series), summed; a stopped trial was killed while training the next epoch, whose time counts in trialRunningSec but not here.',
        'trialRunningSec: job.started -> the trial’s end event (succeeded or cancelled), summed over trials.',
        'cpu: CPU-seconds of each process of the stack (the executor with the trainers it spawned, Postgres with its backends) from submit to the run’s end; otherBusySec went to processes outside the stack (other work on the machine).',
        ...problems.map((p) => `PROBLEM: ${p}`),
      ],
    });
    ok = problems.length === 0;
    return { ok, file };
  } finally {
    await bench.close();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`logs and state kept in ${home}`);
  }
}

/**
 * Everything the benchmark reports about one ended sweep run, read back through the gateway.
 * @param {(method: 'GET' | 'POST', pathname: string, body?: unknown) => Promise<any>} api
 * @param {Mode} mode
 * @param {{ id: string; submittedAtMs: number; submittedAt: number; endType: string | null; endedAt: number | null; sweepCompletedAt: number | null }} submitted
 * @param {ReturnType<typeof cpuUse>} cpu
 * @param {number[]} loadAverageBefore
 */
async function measure(api, mode, submitted, cpu, loadAverageBefore) {
  /** @type {string[]} */
  const problems = [];
  const { id, submittedAtMs } = submitted;
  /** Seconds from submit to a server timestamp (same machine, same clock). */
  const sinceSubmit = (/** @type {string | undefined} */ iso) =>
    iso === undefined ? null : round((Date.parse(iso) - submittedAtMs) / 1000, 1);
  const sinceSubmitPerf = (/** @type {number | null} */ at) =>
    at === null ? null : round((at - submitted.submittedAt) / 1000, 1);
  if (submitted.endType === null) problems.push('never ended');
  else if (submitted.endType !== 'run.succeeded') problems.push(`ended ${submitted.endType}`);

  // The read models follow the log: wait until they have the run's end and every trial's.
  let view;
  let sweep;
  for (const deadline = performance.now() + READ_MODEL_WAIT_MS; ;) {
    view = await api('GET', `/api/v1/runs/${id}`);
    const { sweeps } = await api('GET', `/api/v1/runs/${id}/trials`);
    sweep = sweeps.find((/** @type {any} */ s) => s.step === SWEPT_STEP);
    const settled =
      ['succeeded', 'failed', 'cancelled'].includes(view.status) && sweep?.completed === true;
    if (settled || submitted.endType === null || performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (sweep === undefined) problems.push('no sweep of train in GET /runs/{id}/trials');
  else if (!sweep.completed) problems.push('GET /runs/{id}/trials: the sweep is not completed');

  const trials = [];
  for (const t of sweep?.trials ?? []) {
    const history = /** @type {{ type: string; time: string; data: any }[]} */ (
      await api('GET', `/api/v1/jobs/${t.jobId}/history`)
    );
    const { series } = await api('GET', `/api/v1/jobs/${t.jobId}/metrics`);
    const loss = /** @type {{ step: number | null; value: number; time: string }[]} */ (
      series.loss ?? []
    );
    const started = history.find((e) => e.type === 'job.started');
    const ended = history.findLast((e) =>
      ['job.succeeded', 'job.failed', 'job.cancelled'].includes(e.type),
    );
    const startedSec = sinceSubmit(started?.time);
    const endedSec = sinceSubmit(ended?.time);
    trials.push({
      name: /** @type {string} */ (t.name),
      jobId: /** @type {string} */ (t.jobId),
      params: /** @type {Record<string, string>} */ (t.params),
      status: /** @type {string} */ (t.status),
      epochs: loss.length,
      lastLoss: loss.length === 0 ? null : round(/** @type {any} */ (loss.at(-1)).value, 4),
      lastEpochEndedSec: sinceSubmit(loss.at(-1)?.time),
      earlyStopped:
        t.earlyStopped === null
          ? null
          : {
              step: t.earlyStopped.step,
              value: round(t.earlyStopped.value, 4),
              threshold: round(t.earlyStopped.threshold, 4),
              compared: t.earlyStopped.compared,
            },
      startedSec,
      endedSec,
      runningSec: startedSec === null || endedSec === null ? null : round(endedSec - startedSec, 1),
    });
  }
  const failedTrials = trials.filter((t) => !['succeeded', 'cancelled'].includes(t.status));
  if (failedTrials.length > 0)
    problems.push(
      `trials that neither succeeded nor were stopped: ${failedTrials.map((t) => `${t.name}=${t.status}`).join(', ')}`,
    );

  const bestTrial = sweep?.best ?? null;
  const best = trials.find((t) => t.jobId === bestTrial?.jobId);
  if (best === undefined) problems.push('the sweep has no best trial');
  const bestHistory =
    best === undefined
      ? []
      : /** @type {{ type: string; time: string }[]} */ (
          await api('GET', `/api/v1/jobs/${best.jobId}/history`)
        );

  // The steps around the sweep, and the report the evaluate job committed.
  /** @type {Record<string, number | null>} */
  const stepSec = {};
  let testAccuracy = null;
  let reportVersion = null;
  for (const job of view.jobs) {
    if (job.name.startsWith(`${SWEPT_STEP}#`)) continue;
    const history = /** @type {{ type: string; time: string; data: any }[]} */ (
      await api('GET', `/api/v1/jobs/${job.id}/history`)
    );
    const succeeded = history.findLast((e) => e.type === 'job.succeeded');
    stepSec[job.name] = succeeded === undefined ? null : round(succeeded.data.durationMs / 1000, 1);
    if (job.name === 'evaluate' && succeeded !== undefined) {
      reportVersion =
        succeeded.data.outputs.find((/** @type {any} */ o) => o.fileset === 'mnist-report')
          ?.version ?? null;
      if (reportVersion !== null) {
        const report = await api(
          'GET',
          `/api/v1/filesets/mnist-report/versions/${reportVersion}/files/report.json`,
        );
        testAccuracy = report.accuracy;
      }
    }
  }
  if (testAccuracy === null) problems.push('no test accuracy: evaluate committed no report');

  const stopped = trials.filter((t) => t.earlyStopped !== null);
  return {
    mode,
    runId: id,
    status: /** @type {string} */ (view.status),
    wallSec: sinceSubmitPerf(submitted.endedAt),
    timeToBestSec: best?.lastEpochEndedSec ?? null,
    bestSavedSec: sinceSubmit(bestHistory.findLast((e) => e.type === 'job.succeeded')?.time),
    sweepDoneSec: sinceSubmitPerf(submitted.sweepCompletedAt),
    best:
      best === undefined || bestTrial === null
        ? null
        : {
            name: best.name,
            params: best.params,
            loss: round(bestTrial.value, 4),
            epochs: best.epochs,
          },
    testAccuracy,
    reportVersion,
    stoppedEarly: stopped.length,
    stoppedAt: stopped.map((t) => ({
      name: t.name,
      params: t.params,
      step: /** @type {NonNullable<typeof t.earlyStopped>} */ (t.earlyStopped).step,
    })),
    trialEpochs: trials.reduce((a, t) => a + t.epochs, 0),
    trialRunningSec: round(
      trials.reduce((a, t) => a + (t.runningSec ?? 0), 0),
      1,
    ),
    stepSec,
    trials,
    cpu,
    loadAverage: { before: loadAverageBefore, after: os.loadavg().map((x) => round(x, 2)) },
    problems,
  };
}

/** @typedef {Awaited<ReturnType<typeof measure>>} RunResult */

/**
 * The median of each figure over one mode's runs (the figure itself with one run).
 * @param {RunResult[]} runs
 */
function summarise(runs) {
  const median = (/** @type {(number | null)[]} */ values) => {
    const sorted = /** @type {number[]} */ (values.filter((v) => v !== null)).sort((a, b) => a - b);
    if (sorted.length === 0) return null;
    const mid = Math.floor(sorted.length / 2);
    const upper = sorted[mid] ?? NaN;
    const lower = sorted.length % 2 === 1 ? upper : (sorted[mid - 1] ?? NaN);
    return round((lower + upper) / 2, 4);
  };
  return {
    runs: runs.length,
    wallSec: median(runs.map((r) => r.wallSec)),
    timeToBestSec: median(runs.map((r) => r.timeToBestSec)),
    sweepDoneSec: median(runs.map((r) => r.sweepDoneSec)),
    bestLoss: median(runs.map((r) => r.best?.loss ?? null)),
    testAccuracy: median(runs.map((r) => r.testAccuracy)),
    stoppedEarly: median(runs.map((r) => r.stoppedEarly)),
    trialEpochs: median(runs.map((r) => r.trialEpochs)),
    trialRunningSec: median(runs.map((r) => r.trialRunningSec)),
    cpuSecAll: median(
      runs.map((r) =>
        round(
          Object.entries(r.cpu.cpuSecByProcess)
            .filter(([name]) => name !== 'bench (this process)')
            .reduce((a, [, sec]) => a + sec, 0),
          2,
        ),
      ),
    ),
    bestTrials: [...new Set(runs.map((r) => r.best?.name ?? '-'))],
  };
}

/** @param {Record<string, string> | undefined} params */
function paramsText(params) {
  return params === undefined
    ? '-'
    : Object.entries(params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
}

/**
 * Each run's figures in a column, the early-stopping runs first, then the baseline's.
 * @param {(line: string) => void} say
 * @param {RunResult[]} results
 * @param {Record<Mode, ReturnType<typeof summarise>>} summary
 * @param {number} repeats
 */
function printTable(say, results, summary, repeats) {
  const columns = [
    ...results.filter((r) => r.mode === 'early stopping'),
    ...results.filter((r) => r.mode === 'baseline'),
  ];
  const fmt = (/** @type {number | null | undefined} */ x, /** @type {number} */ d) =>
    x == null ? '-' : x.toFixed(d);
  const processes = [...new Set(columns.flatMap((r) => Object.keys(r.cpu.cpuSecByProcess)))].filter(
    (name) => name !== 'bench (this process)',
  );
  /** @type {[string, (r: RunResult) => string][]} */
  const rows = [
    ['wall time, submit -> end', (r) => `${fmt(r.wallSec, 1)} s`],
    ['time to the best model', (r) => `${fmt(r.timeToBestSec, 1)} s`],
    ['every trial ended', (r) => `${fmt(r.sweepDoneSec, 1)} s`],
    ['best trial', (r) => r.best?.name ?? '-'],
    ['  LEARNING_RATE', (r) => r.best?.params['LEARNING_RATE'] ?? '-'],
    ['  HIDDEN', (r) => r.best?.params['HIDDEN'] ?? '-'],
    ['  loss (last epoch)', (r) => fmt(r.best?.loss, 4)],
    ['test accuracy', (r) => (r.testAccuracy === null ? '-' : `${fmt(r.testAccuracy * 100, 2)}%`)],
    ['trials stopped early', (r) => `${r.stoppedEarly}/${r.trials.length}`],
    [
      '  at epoch',
      (r) => (r.stoppedAt.length === 0 ? '-' : r.stoppedAt.map((s) => s.step).join(',')),
    ],
    ['trial-epochs trained', (r) => String(r.trialEpochs)],
    ['trials running, summed', (r) => `${fmt(r.trialRunningSec, 1)} s`],
    ['etl / evaluate', (r) => `${fmt(r.stepSec['etl'], 1)} / ${fmt(r.stepSec['evaluate'], 1)} s`],
    ...processes.map(
      (name) =>
        /** @type {[string, (r: RunResult) => string]} */ ([
          `CPU-s ${name}`,
          (r) => fmt(r.cpu.cpuSecByProcess[name], 1),
        ]),
    ),
    ['machine busy', (r) => `${fmt(r.cpu.machineBusyPct, 0)}%`],
    ['CPU-s outside the stack', (r) => fmt(r.cpu.otherBusySec, 1)],
    ['load average before', (r) => fmt(r.loadAverage.before[0], 2)],
  ];
  const width = 18;
  const label = 26;
  say('');
  say(
    `  ${''.padEnd(label)}${columns.map((r) => (r.mode === 'baseline' ? 'no early stop' : 'early stopping').padStart(width)).join('')}`,
  );
  for (const [name, cell] of rows)
    say(`  ${name.padEnd(label)}${columns.map((r) => cell(r).padStart(width)).join('')}`);
  say('');
  const e = summary['early stopping'];
  const b = summary.baseline;
  const ratio = (/** @type {number | null} */ x, /** @type {number | null} */ y) =>
    x === null || y === null || y === 0
      ? '-'
      : `${x >= y ? '+' : ''}${((x / y - 1) * 100).toFixed(0)}%`;
  say(
    `  early stopping vs without${repeats > 1 ? ` (medians of ${repeats} runs each)` : ''}: ` +
      `wall time ${ratio(e.wallSec, b.wallSec)}, time to the best model ${ratio(e.timeToBestSec, b.timeToBestSec)}, ` +
      `every trial ended (the best known) ${ratio(e.sweepDoneSec, b.sweepDoneSec)}, ` +
      `trial-epochs ${ratio(e.trialEpochs, b.trialEpochs)}, trials' running time ${ratio(e.trialRunningSec, b.trialRunningSec)}, ` +
      `stack CPU-s ${ratio(e.cpuSecAll, b.cpuSecAll)}; test accuracy ${fmt((e.testAccuracy ?? NaN) * 100, 2)}% vs ${fmt((b.testAccuracy ?? NaN) * 100, 2)}%`,
  );
}
