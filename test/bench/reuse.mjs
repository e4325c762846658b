// @ts-check
// The `reuse` benchmark (the provenance issue's first figure): a workload of pipelines written as
// different users would write them, overlapping in steps as the Kaggle workloads of the Experiment
// Graph paper do (several users' scripts over the same data, sharing loading and feature steps and
// differing in models and parameters), on the weather table (examples/tabular) and on MNIST
// (examples/mnist), run through the whole stack, one pipeline after another:
//
//   A  the workload with `reuse: "never"`: every step computed (the baseline; the overlap between
//      pipelines is not exploited either);
//   B  the same workload again, unchanged, with reuse (auto);
//   C  a modified workload (about half of the steps changed: other parameters, models, feature
//      steps) with reuse, after A and B;
//   D  the modified workload with `reuse: "never"`: C's fair baseline.
//
// C and D are interleaved pipeline by pipeline (C's run of a pipeline, then D's, then the next
// pipeline), so that both see the same load on a shared machine; their ratio is reported with its
// spread over the pipelines.
//
// Goals: A / B >= 12 (unchanged), D / C >= 2 (modified). For each phase: wall time (first submit to
// the last run's end event), each run's, steps computed and reused; and where the time of a reused
// run goes (from the jobs' histories).
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { countLogLines, cpuSnapshot, cpuUse, round, stats } from './lib.mjs';
import { runProgram, startMnistStack } from './mnist-stack.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */
/** @typedef {Record<string, string>} Env */
/**
 * @typedef {object} StepSpec
 * @property {string} name
 * @property {string[]} command
 * @property {string[]} [code]
 * @property {unknown[]} [inputs]
 * @property {{ fileset: string }[]} outputs
 * @property {Env} [env]
 * @property {{ cpu?: number, memoryMb?: number }} resources
 * @property {number} timeoutSeconds
 * @property {{ metric: string, goal: 'max' | 'min' }} [quality]  the metric that says how good its model is
 */
/** @typedef {{ name: string, reuse?: 'never', steps: StepSpec[] }} RunSpec */
/** @typedef {{ user: string, kind: 'tabular' | 'flights' | 'mnist', spec: RunSpec }} Pipeline */
/** @typedef {{ seq: number, type: string, time: string, data: any }} HistoryEntry */
/** @typedef {Awaited<ReturnType<typeof startMnistStack>>} Bench */

export const RUN_TIMEOUT_MS = 15 * 60_000;
const GOAL_UNCHANGED = 12;
const GOAL_MODIFIED = 2;

/**
 * What differs between the tables of examples/tabular that the workload runs on: the programs of
 * the first three steps, what `train` and `evaluate` are told about the table, and the resources.
 * The weather table (2,922 rows) has its own load, clean and featurize programs; flights3m (3
 * million rows) the flights3m ones, with the shared train and evaluate told `TABLE=flights3m`.
 * @type {Record<'weather' | 'flights3m', { programs: Record<'load' | 'clean' | 'features', string>, env: Env, resources: StepSpec['resources'], timeoutSeconds: number }>}
 */
const TABLES = {
  weather: {
    programs: { load: 'load.js', clean: 'clean.js', features: 'featurize.js' },
    env: {},
    resources: { cpu: 1, memoryMb: 384 },
    timeoutSeconds: 300,
  },
  // 3 million flights: the model steps hold the 2.4-million-row matrix (500 MB) and a 64-bit copy
  // of the rows they fit on.
  flights3m: {
    programs: {
      load: 'load-flights3m.js',
      clean: 'clean-flights3m.js',
      features: 'featurize-flights3m.js',
    },
    env: { TABLE: 'flights3m' },
    resources: { cpu: 1, memoryMb: 2560 },
    timeoutSeconds: 900,
  },
};

/**
 * The steps of a pipeline on a table of examples/tabular: load -> clean -> features -> train ->
 * evaluate, reading file set `<table>` and writing `<table>-table`, `-split`, `-features`,
 * `-model` and `-report`. Two users' steps are "the same step" when command, code, env and inputs
 * are the same.
 * @param {string} examples
 * @param {keyof typeof TABLES} table
 * @param {{ clean?: Env, features: Env, train: Env }} p
 * @returns {StepSpec[]}
 */
function tableSteps(examples, table, p) {
  const dist = `${examples}/tabular/dist`;
  const { programs, env: tableEnv, resources, timeoutSeconds } = TABLES[table];
  // What the model steps print as `##acai metric` (examples/tabular/src/train.ts, evaluate.ts):
  // validated and test accuracy for the classifier (logistic), RMSE for the regressions; validated
  // by cross-validation (`cv_`), or on flights3m by a hold-out (`val_`).
  const classifier = p.train['MODEL'] === 'logistic';
  const validated = table === 'flights3m' ? 'val' : 'cv';
  /** @type {Record<'train' | 'evaluate', NonNullable<StepSpec['quality']>>} */
  const quality = classifier
    ? {
        train: { metric: `${validated}_accuracy`, goal: 'max' },
        evaluate: { metric: 'accuracy', goal: 'max' },
      }
    : {
        train: { metric: `${validated}_rmse`, goal: 'min' },
        evaluate: { metric: 'rmse', goal: 'min' },
      };
  /** @param {string} name @param {string} program @param {unknown[]} inputs @param {string} output @param {Env} [env] @returns {StepSpec} */
  const step = (name, program, inputs, output, env) => ({
    name,
    command: ['node', `${dist}/${program}`],
    code: [dist],
    inputs,
    outputs: [{ fileset: `${table}-${output}` }],
    ...(env === undefined || Object.keys(env).length === 0 ? {} : { env }),
    resources,
    timeoutSeconds,
    ...(name === 'train' || name === 'evaluate' ? { quality: quality[name] } : {}),
  });
  /** @param {string} name @param {string} output */
  const from = (name, output) => ({ step: name, output: `${table}-${output}` });
  return [
    step('load', programs.load, [{ fileset: table }], 'table'),
    step('clean', programs.clean, [from('load', 'table')], 'split', {
      TEST_FRACTION: '0.2',
      SEED: '1',
      ...p.clean,
    }),
    step('features', programs.features, [from('clean', 'split')], 'features', p.features),
    step('train', 'train.js', [from('features', 'features')], 'model', {
      ...tableEnv,
      ...p.train,
    }),
    step(
      'evaluate',
      'evaluate.js',
      [from('features', 'features'), from('train', 'model')],
      'report',
      tableEnv,
    ),
  ];
}

/**
 * The MNIST pipeline (examples/mnist: etl -> train -> evaluate), without `provision` (no profiling
 * runs), with a small EPOCHS so that the benchmark stays within minutes. With `pca`, a pca step
 * between etl and train (the tensors projected on their leading COMPONENTS principal components,
 * tens of seconds of CPU for a file set about an eighth of etl's), which train and evaluate read.
 * @param {string} examples
 * @param {{ etl?: Env, pca?: Env, train: Env }} p
 * @returns {StepSpec[]}
 */
function mnistSteps(examples, p) {
  const dist = `${examples}/mnist/dist`;
  const tensors =
    p.pca === undefined
      ? { step: 'etl', output: 'mnist-tensors' }
      : { step: 'pca', output: 'mnist-pca' };
  /** @type {Env} */
  const reads = p.pca === undefined ? {} : { TENSORS: 'mnist-pca' };
  /** @type {StepSpec[]} */
  const pca =
    p.pca === undefined
      ? []
      : [
          {
            name: 'pca',
            command: ['node', `${dist}/pca.js`],
            code: [dist],
            inputs: [{ step: 'etl', output: 'mnist-tensors' }],
            outputs: [{ fileset: 'mnist-pca' }],
            env: p.pca,
            resources: { cpu: 1, memoryMb: 768 },
            timeoutSeconds: 600,
          },
        ];
  return [
    {
      name: 'etl',
      command: ['node', `${dist}/etl.js`],
      code: [dist],
      inputs: [{ fileset: 'mnist' }],
      outputs: [{ fileset: 'mnist-tensors' }],
      env: { NORMALISE: 'scale', ...p.etl },
      resources: { cpu: 1, memoryMb: 512 },
      timeoutSeconds: 300,
    },
    ...pca,
    {
      name: 'train',
      command: ['node', `${dist}/train.js`],
      code: [dist],
      inputs: [tensors],
      outputs: [{ fileset: 'mnist-model' }],
      env: {
        HIDDEN: '64',
        LEARNING_RATE: '0.1',
        MOMENTUM: '0.9',
        EPOCHS: '1',
        BATCH: '64',
        SEED: '1',
        ...reads,
        ...p.train,
      },
      resources: { cpu: 1, memoryMb: 768 },
      timeoutSeconds: 900,
      quality: { metric: 'train_accuracy', goal: 'max' },
    },
    {
      name: 'evaluate',
      command: ['node', `${dist}/evaluate.js`],
      code: [dist],
      inputs: [tensors, { step: 'train', output: 'mnist-model' }],
      outputs: [{ fileset: 'mnist-report' }],
      ...(p.pca === undefined ? {} : { env: reads }),
      resources: { cpu: 1, memoryMb: 256 },
      timeoutSeconds: 300,
      quality: { metric: 'accuracy', goal: 'max' },
    },
  ];
}

/**
 * The workload: eleven users' pipelines, eight on the weather table and three on MNIST. Every
 * tabular pipeline shares load and clean; features are shared by two to four users each; models
 * and their parameters differ (the Kaggle workloads' shape). With `flights` (the `reuse`
 * benchmark's workload), six more users on the 3-million-flight table (flights3m), after the
 * weather ones, in the same shape: all share load and clean, features `traffic` (2 users),
 * `target` (3) or `calendar` (1), models least squares, ridge, gradient descent and logistic
 * regression, validated on a hold-out and the gradient ones stochastic (the example's defaults on
 * this table; no kNN: a pass over 2.4 million train rows per prediction). With `pca` (the `materialize`
 * benchmark's workload), three more MNIST users, who ran before the other three, put a pca step
 * before their model (two with the same 100 components, one with 50): an expensive feature table
 * that several pipelines read, beside the cheap and big tensor sets, and not the last one used.
 * @param {string} examples
 * @param {{ pca?: boolean, flights?: boolean }} [options]
 * @returns {{ original: Pipeline[], modified: Pipeline[] }}
 */
export function workload(examples, options = {}) {
  /** @param {string} user @param {{ clean?: Env, features: Env, train: Env }} p @returns {Pipeline} */
  const tab = (user, p) => ({
    user,
    kind: 'tabular',
    spec: { name: `${user}-weather`, steps: tableSteps(examples, 'weather', p) },
  });
  /** @param {string} user @param {{ clean?: Env, features: Env, train: Env }} p @returns {Pipeline} */
  const fly = (user, p) => ({
    user,
    kind: 'flights',
    spec: { name: `${user}-flights`, steps: tableSteps(examples, 'flights3m', p) },
  });
  /** @param {string} user @param {{ etl?: Env, pca?: Env, train: Env }} p @returns {Pipeline} */
  const mnist = (user, p) => ({
    user,
    kind: 'mnist',
    spec: { name: `${user}-mnist`, steps: mnistSteps(examples, p) },
  });
  const standard = { FEATURES: 'standard' };
  const onehot = { FEATURES: 'onehot' };
  const poly2 = { FEATURES: 'poly', DEGREE: '2' };
  const poly3 = { FEATURES: 'poly', DEGREE: '3' };
  const calendar = { FEATURES: 'calendar' };
  const traffic = { FEATURES: 'traffic' };
  const target = { FEATURES: 'target' };
  const target100 = { FEATURES: 'target', SMOOTHING: '100' };
  const original = [
    tab('alice', { features: standard, train: { MODEL: 'ridge', LAMBDA: '1' } }),
    tab('bob', { features: standard, train: { MODEL: 'ols' } }),
    tab('carol', { features: onehot, train: { MODEL: 'ridge', LAMBDA: '1' } }),
    tab('dave', { features: onehot, train: { MODEL: 'knn', K: '10' } }),
    tab('erin', { features: poly2, train: { MODEL: 'ridge', LAMBDA: '10' } }),
    tab('frank', { features: poly2, train: { MODEL: 'gd', EPOCHS: '400', LEARNING_RATE: '0.05' } }),
    tab('grace', { features: onehot, train: { MODEL: 'logistic' } }),
    tab('heidi', { features: standard, train: { MODEL: 'knn', K: '5' } }),
    ...(options.flights === true
      ? [
          fly('kim', { features: traffic, train: { MODEL: 'ridge', LAMBDA: '1' } }),
          fly('leo', { features: traffic, train: { MODEL: 'ols' } }),
          fly('mia', { features: target, train: { MODEL: 'ridge', LAMBDA: '10' } }),
          fly('noah', { features: target, train: { MODEL: 'logistic' } }),
          fly('olive', { features: calendar, train: { MODEL: 'gd', LEARNING_RATE: '0.1' } }),
          fly('pete', { features: target, train: { MODEL: 'gd', LEARNING_RATE: '0.1' } }),
        ]
      : []),
    ...(options.pca === true
      ? [
          mnist('oscar', { pca: { COMPONENTS: '100' }, train: { HIDDEN: '64' } }),
          mnist('peggy', { pca: { COMPONENTS: '100' }, train: { HIDDEN: '128' } }),
          mnist('trent', { pca: { COMPONENTS: '50' }, train: { HIDDEN: '64' } }),
        ]
      : []),
    mnist('ivan', { train: { HIDDEN: '64' } }),
    mnist('judy', { train: { HIDDEN: '128' } }),
    mnist('mallory', { etl: { NORMALISE: 'standardise' }, train: { HIDDEN: '64' } }),
  ];
  // About half of the steps change. A changed step changes every step downstream of it (their
  // inputs are other bytes); a changed step that another user's modified pipeline also has is
  // computed once with reuse and once per pipeline without.
  const modified = [
    tab('alice', { features: standard, train: { MODEL: 'ridge', LAMBDA: '0.1' } }), // train
    tab('bob', {
      features: standard,
      train: { MODEL: 'gd', EPOCHS: '400', LEARNING_RATE: '0.05' },
    }), // model
    tab('carol', { features: onehot, train: { MODEL: 'knn', K: '20' } }), // model
    tab('dave', { features: onehot, train: { MODEL: 'knn', K: '10' } }), // unchanged
    tab('erin', { features: poly3, train: { MODEL: 'gd', EPOCHS: '200', LEARNING_RATE: '0.02' } }), // features, model
    tab('frank', { features: poly3, train: { MODEL: 'gd', EPOCHS: '200', LEARNING_RATE: '0.01' } }), // features (as erin's), rate
    tab('grace', {
      clean: { TEST_FRACTION: '0.3' },
      features: onehot,
      train: { MODEL: 'logistic' },
    }), // the split
    tab('heidi', { features: onehot, train: { MODEL: 'knn', K: '5' } }), // features (as carol's), so the model
    ...(options.flights === true
      ? [
          fly('kim', { features: traffic, train: { MODEL: 'ridge', LAMBDA: '100' } }), // train
          fly('leo', { features: traffic, train: { MODEL: 'gd', LEARNING_RATE: '0.1' } }), // model
          fly('mia', { features: target100, train: { MODEL: 'ridge', LAMBDA: '10' } }), // features (smoothing), so the model
          fly('noah', { features: target, train: { MODEL: 'logistic' } }), // unchanged
          fly('olive', {
            features: traffic,
            train: { MODEL: 'gd', LEARNING_RATE: '0.1', EPOCHS: '4' },
          }), // features (as kim's), twice the epochs
          fly('pete', { features: target100, train: { MODEL: 'gd', LEARNING_RATE: '0.05' } }), // features (as mia's), rate
        ]
      : []),
    ...(options.pca === true
      ? [
          mnist('oscar', {
            pca: { COMPONENTS: '100' },
            train: { HIDDEN: '64', LEARNING_RATE: '0.05' },
          }), // train
          mnist('peggy', { pca: { COMPONENTS: '100' }, train: { HIDDEN: '256' } }), // train
          mnist('trent', { pca: { COMPONENTS: '50' }, train: { HIDDEN: '128' } }), // train
        ]
      : []),
    mnist('ivan', { train: { HIDDEN: '64', LEARNING_RATE: '0.05' } }), // train
    mnist('judy', { train: { HIDDEN: '128', LEARNING_RATE: '0.2' } }), // train
    mnist('mallory', { etl: { NORMALISE: 'standardise' }, train: { HIDDEN: '32' } }), // train
  ];
  return { original, modified };
}

/**
 * A key per step that is equal exactly when two steps would have the same signature given the same
 * data: its command, code, env and the keys of the steps it reads.
 * @param {RunSpec} spec
 * @returns {Map<string, string>} step name -> key
 */
export function stepKeys(spec) {
  /** @type {Map<string, string>} */
  const keys = new Map();
  for (const step of spec.steps) {
    const inputs = (step.inputs ?? []).map((input) => {
      const i = /** @type {{ step?: string, output?: string, fileset?: string }} */ (input);
      return i.step === undefined ? `fileset:${i.fileset}` : `${keys.get(i.step)}>${i.output}`;
    });
    keys.set(
      step.name,
      JSON.stringify([step.command, step.code, step.env ?? {}, inputs, step.outputs]),
    );
  }
  return keys;
}

/**
 * How many of `next`'s steps are new against `earlier` (changed, or downstream of a change), and
 * how many distinct new ones there are (a step two modified pipelines share is computed once with
 * reuse).
 * @param {Pipeline[]} earlier
 * @param {Pipeline[]} next
 */
export function changes(earlier, next) {
  const seen = new Set(earlier.flatMap((p) => [...stepKeys(p.spec).values()]));
  const all = next.flatMap((p) => [...stepKeys(p.spec).values()]);
  const changed = all.filter((k) => !seen.has(k));
  return {
    steps: all.length,
    changed: changed.length,
    distinctChanged: new Set(changed).size,
    distinctSteps: new Set(all).size,
  };
}

/** @param {Pipeline[]} pipelines @param {boolean} never @returns {Pipeline[]} */
export const withReuse = (pipelines, never) =>
  pipelines.map((p) => ({
    ...p,
    spec: never ? { ...p.spec, reuse: 'never' } : p.spec,
  }));

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const { say } = ctx;
  const loadAverageAtStart = os.loadavg().map((x) => round(x, 2));
  const bench = await startMnistStack(ctx, 'reuse');
  const { home, stack, api } = bench;
  /** @type {string[]} */
  const problems = [];
  let ok = false;
  try {
    say('importing the weather and flights3m tables (examples/tabular/import.mjs)');
    await runProgram(
      process.execPath,
      [path.join(ctx.root, 'examples/tabular/import.mjs'), 'weather', 'flights3m'],
      { ACAI_URL: stack.gatewayUrl, ACAI_KEY: stack.key() },
    );
    const examples = await stack.examples();
    const { original, modified } = workload(examples, { flights: true });
    const modification = changes(original, modified);
    say(
      `workload: ${original.length} pipelines, ${modification.steps} steps ` +
        `(${changes([], original).distinctSteps} distinct); modified: ${modification.changed} of ` +
        `${modification.steps} steps new (${modification.distinctChanged} distinct)`,
    );

    // Warm-up, not measured: the page cache, the programs' first start, each service's first run.
    // Its steps that take a seed get one no phase uses, so that no phase can reuse them.
    say(
      'warm-up: one weather, one flights and one MNIST pipeline with a seed no phase uses (not measured)',
    );
    const warm = workload(examples, { flights: true }).original;
    for (const kind of /** @type {const} */ (['tabular', 'flights', 'mnist'])) {
      const p = warm.find((w) => w.kind === kind);
      if (p === undefined) continue;
      const spec = {
        ...p.spec,
        name: `warmup-${p.spec.name}`,
        steps: p.spec.steps.map((s) =>
          s.env === undefined ? s : { ...s, env: { ...s.env, SEED: '99' } },
        ),
      };
      const r = await bench.submitAndWait(spec, RUN_TIMEOUT_MS);
      if (r.endType !== 'run.succeeded') problems.push(`warm-up ${spec.name} ended ${r.endType}`);
    }

    /** @param {string} phase @param {string} what @param {Pipeline[]} pipelines */
    const runPhase = (phase, what, pipelines) =>
      runWorkload(bench, say, problems, phase, what, pipelines);

    const a = await runPhase(
      'A',
      'the workload, reuse: never (baseline)',
      withReuse(original, true),
    );
    const b = await runPhase(
      'B',
      'the workload again, unchanged, with reuse',
      withReuse(original, false),
    );
    const cd = await runInterleaved(
      bench,
      say,
      problems,
      {
        phase: 'C',
        what: 'the modified workload, with reuse',
        pipelines: withReuse(modified, false),
      },
      {
        phase: 'D',
        what: 'the modified workload, reuse: never (C’s baseline)',
        pipelines: withReuse(modified, true),
      },
    );
    const [c, d] = cd.phases;
    if (bench.died() !== undefined) problems.push(`a service died: ${bench.died()}`);

    const unchanged = round(a.wallSec / b.wallSec, 2);
    const modifiedSpeedup = round(d.wallSec / c.wallSec, 2);
    const modifiedAgainstA = round(a.wallSec / c.wallSec, 2);
    // The most reuse could give C with no overhead at all: D's job time against D's job time in
    // the steps C had to compute (the same pipeline's same step), since those run either way.
    const computedInC = new Set(
      c.pipelines.flatMap((p) =>
        p.jobs.filter((j) => !j.reused && !j.skipped).map((j) => `${p.name}/${j.name}`),
      ),
    );
    const dSecondsOfComputedInC = d.pipelines
      .flatMap((p) => p.jobs.map((j) => ({ key: `${p.name}/${j.name}`, seconds: j.seconds ?? 0 })))
      .filter((j) => computedInC.has(j.key))
      .reduce((s, j) => s + j.seconds, 0);
    const modifiedBound = {
      dJobSeconds: d.jobSeconds,
      dJobSecondsOfStepsComputedInC: round(dSecondsOfComputedInC, 2),
      shareOfDTime: round(dSecondsOfComputedInC / Math.max(d.jobSeconds, 1e-9), 3),
      bestSpeedup: round(d.jobSeconds / Math.max(dSecondsOfComputedInC, 1e-9), 2),
    };
    // The same figures per family (weather, flights, MNIST): the runs' wall times summed (each
    // pipeline runs alone, so the sums add up to the phase's time but for the gaps between runs),
    // and the bound from the family's own job times.
    /** @type {Map<string, Pipeline['kind']>} */
    const kindOf = new Map([...original, ...modified].map((p) => [p.spec.name, p.kind]));
    /** @param {typeof a} phase @param {Pipeline['kind']} kind */
    const ofKind = (phase, kind) => phase.pipelines.filter((p) => kindOf.get(p.name) === kind);
    /** @param {typeof a} phase @param {Pipeline['kind']} kind @param {'wallSec' | 'jobSeconds'} field */
    const sum = (phase, kind, field) =>
      round(
        ofKind(phase, kind).reduce((t, p) => t + (p[field] ?? 0), 0),
        2,
      );
    const families = Object.fromEntries(
      /** @type {const} */ (['tabular', 'flights', 'mnist']).map((kind) => {
        const dComputedInC = ofKind(d, kind)
          .flatMap((p) =>
            p.jobs.map((j) => ({ key: `${p.name}/${j.name}`, seconds: j.seconds ?? 0 })),
          )
          .filter((j) => computedInC.has(j.key))
          .reduce((t, j) => t + j.seconds, 0);
        const [aWall, bWall, cWall, dWall] = [a, b, c, d].map((x) => sum(x, kind, 'wallSec'));
        const dJob = sum(d, kind, 'jobSeconds');
        return [
          kind,
          {
            runsWallSec: { A: aWall, B: bWall, C: cWall, D: dWall },
            computed: {
              A: 0,
              B: 0,
              C: 0,
              D: 0,
              ...Object.fromEntries(
                [a, b, c, d].map((x) => [
                  x.phase,
                  ofKind(x, kind).reduce((t, p) => t + p.computed, 0),
                ]),
              ),
            },
            steps: ofKind(c, kind).reduce((t, p) => t + p.computed + p.reused + p.skipped, 0),
            unchanged: round((aWall ?? 0) / Math.max(bWall ?? 0, 1e-9), 2),
            modified: round((dWall ?? 0) / Math.max(cWall ?? 0, 1e-9), 2),
            dJobSeconds: dJob,
            dJobSecondsOfStepsComputedInC: round(dComputedInC, 2),
            shareOfDTime: round(dComputedInC / Math.max(dJob, 1e-9), 3),
            bestSpeedup: round(dJob / Math.max(dComputedInC, 1e-9), 2),
            dJobSecondsByStep: Object.fromEntries(
              ['load', 'clean', 'features', 'etl', 'train', 'evaluate']
                .map((step) => [
                  step,
                  round(
                    ofKind(d, kind)
                      .flatMap((p) => p.jobs)
                      .filter((j) => j.name === step)
                      .reduce((t, j) => t + (j.seconds ?? 0), 0),
                    2,
                  ),
                ])
                .filter(([, seconds]) => seconds !== 0),
            ),
          },
        ];
      }),
    );
    // Where a reused run's time goes: from its POST to its first job's decision, the decisions
    // themselves (one job after the other, each when the steps it needs have ended), and from the
    // last job's to the run's end event.
    const reusedRuns = b.pipelines.filter((p) => p.computed === 0);
    const breakdown = {
      runs: reusedRuns.length,
      perRunSec: stats(
        reusedRuns.map((p) => p.wallSec ?? 0),
        3,
      ),
      acceptMs: stats(
        reusedRuns.map((p) => p.acceptMs),
        1,
      ),
      submitToFirstDecisionMs: stats(
        reusedRuns.map((p) => p.submitToFirstDecisionMs ?? 0),
        1,
      ),
      betweenDecisionsMs: stats(
        reusedRuns.flatMap((p) => p.betweenDecisionsMs),
        1,
      ),
      lastDecisionToEndMs: stats(
        reusedRuns.map((p) => p.lastDecisionToEndMs ?? 0),
        1,
      ),
      perStepMs: round(
        (reusedRuns.reduce((s, p) => s + (p.wallSec ?? 0), 0) * 1000) /
          Math.max(
            1,
            reusedRuns.reduce((s, p) => s + p.reused + p.skipped, 0),
          ),
        1,
      ),
    };

    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const errorCount = Object.values(logErrors).reduce((s, n) => s + n, 0);
    if (errorCount > 0)
      problems.push(
        `service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)} (see ${stack.logDir})`,
      );
    if (b.computed > 0)
      problems.push(`phase B computed ${b.computed} steps of an unchanged workload`);

    say('');
    say(
      `phase                                   wall s   computed  reused  not needed   speed-up   goal`,
    );
    /** @param {typeof a} p @param {string} speed @param {string} goal */
    const line = (p, speed, goal) =>
      say(
        `${`${p.phase} ${p.what}`.slice(0, 38).padEnd(38)} ${String(p.wallSec).padStart(7)}  ` +
          `${String(p.computed).padStart(8)}  ${String(p.reused).padStart(6)}  ${String(p.skipped).padStart(10)}   ` +
          `${speed.padStart(8)}   ${goal}`,
      );
    line(a, '1×', '');
    line(
      b,
      `${unchanged}×`,
      `>= ${GOAL_UNCHANGED}× ${unchanged >= GOAL_UNCHANGED ? 'met' : 'MISSED'}`,
    );
    line(d, '1×', '');
    line(
      c,
      `${modifiedSpeedup}×`,
      `>= ${GOAL_MODIFIED}× ${modifiedSpeedup >= GOAL_MODIFIED ? 'met' : 'MISSED'}`,
    );
    say(
      `D / C over the ${cd.spread.pairs} interleaved pairs: ${cd.spread.ratio}× ` +
        `(95 % bootstrap interval over pipelines ${cd.spread.bootstrap95[0]}-${cd.spread.bootstrap95[1]}×; ` +
        `per pipeline ${cd.spread.perPair.min}× to ${cd.spread.perPair.max}×, median ${cd.spread.perPair.p50}×; ` +
        `load average ${Math.min(...cd.pairs.map((x) => x.loadAverage))}-${Math.max(...cd.pairs.map((x) => x.loadAverage))} as the pairs began)`,
    );
    say(`C against A (the original workload without reuse): ${modifiedAgainstA}×`);
    say(
      `the steps C computed took ${modifiedBound.dJobSecondsOfStepsComputedInC} s of D's ` +
        `${modifiedBound.dJobSeconds} s of job time (${round(modifiedBound.shareOfDTime * 100, 1)} %): ` +
        `with no overhead at all, reuse could make C at most ${modifiedBound.bestSpeedup}× faster than D`,
    );
    say(
      "per family (runs' wall times summed): A / B, D / C, share of D's job time in steps C computed, best D / C",
    );
    for (const [kind, f] of Object.entries(families))
      say(
        `  ${kind.padEnd(8)} A ${f.runsWallSec.A} s, B ${f.runsWallSec.B} s: ${f.unchanged}×; ` +
          `D ${f.runsWallSec.D} s, C ${f.runsWallSec.C} s: ${f.modified}×; ` +
          `${round(f.shareOfDTime * 100, 1)} % of ${f.dJobSeconds} s, best ${f.bestSpeedup}× ` +
          `(D by step: ${JSON.stringify(f.dJobSecondsByStep)})`,
      );
    say(
      `a reused run (B): ${breakdown.perRunSec.mean} s on average, ${breakdown.perStepMs} ms per step; ` +
        `POST -> 202 ${breakdown.acceptMs.p50} ms, POST -> first decision ${breakdown.submitToFirstDecisionMs.p50} ms, ` +
        (breakdown.betweenDecisionsMs.count === 0
          ? 'one decision per run (the other steps not needed), '
          : `between decisions ${breakdown.betweenDecisionsMs.p50} ms (p50), `) +
        `last decision -> run end ${breakdown.lastDecisionToEndMs.p50} ms`,
    );
    for (const p of problems) say(`PROBLEM: ${p}`);
    ok = problems.length === 0;

    const file = ctx.writeResult('reuse', {
      benchmark: 'reuse',
      date: new Date().toISOString(),
      ok,
      machine: {
        ...ctx.machine(),
        natsServer: bench.natsVersion(),
        loadAverageAtStart,
        loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)),
      },
      workload: {
        pipelines: original.map((p) => ({
          user: p.user,
          kind: p.kind,
          name: p.spec.name,
          steps: p.spec.steps.map((s) => ({ name: s.name, env: s.env ?? {} })),
        })),
        modified: modified.map((p) => ({
          user: p.user,
          kind: p.kind,
          name: p.spec.name,
          steps: p.spec.steps.map((s) => ({ name: s.name, env: s.env ?? {} })),
        })),
        modification,
      },
      phases: { A: a, B: b, C: c, D: d },
      speedups: {
        unchanged: {
          value: unchanged,
          goal: GOAL_UNCHANGED,
          met: unchanged >= GOAL_UNCHANGED,
          of: 'A wall / B wall',
        },
        modified: {
          value: modifiedSpeedup,
          goal: GOAL_MODIFIED,
          met: modifiedSpeedup >= GOAL_MODIFIED,
          of: 'D wall / C wall, C and D interleaved pipeline by pipeline (each wall the sum of its runs)',
          spread: cd.spread,
          pairs: cd.pairs,
        },
        modifiedAgainstA: { value: modifiedAgainstA, of: 'A wall / C wall' },
        modifiedBound,
        families,
      },
      reusedRunBreakdown: breakdown,
      notes: problems,
    });
    return { ok, file };
  } finally {
    await bench.close();
    if (ok && !ctx.keep) {
      const { rmSync } = await import('node:fs');
      rmSync(home, { recursive: true, force: true });
    } else say(`kept ${home}`);
  }
}

/**
 * Runs a phase: each pipeline submitted when the previous one ended (as one user after another),
 * timed from the bus; then the run views and job histories. In `default`, or in the project of
 * `key`.
 * @param {Bench} bench
 * @param {(line: string) => void} say
 * @param {string[]} problems  what went wrong is added here
 * @param {string} phase @param {string} what @param {Pipeline[]} pipelines
 * @param {string} [key]
 */
export async function runWorkload(bench, say, problems, phase, what, pipelines, key) {
  say(`phase ${phase}: ${what}`);
  const before = cpuSnapshot(bench.home);
  const started = performance.now();
  /** @type {PipelineRun[]} */
  const runs = [];
  for (const p of pipelines) {
    runs.push(await runPipeline(bench, problems, phase, p, key));
    if (bench.died() !== undefined) break;
  }
  const wallSec = (performance.now() - started) / 1000;
  const cpu = cpuUse(before, cpuSnapshot(bench.home));
  return describePhase(bench, say, problems, { phase, what, runs, wallSec, cpu }, key);
}

/**
 * Runs two phases of the same pipelines interleaved, pipeline by pipeline: the first phase's run
 * of a pipeline, then the second's, then the next pipeline; so that both phases see the same load
 * on a shared machine (run one after the other, the drift between them is in their ratio). A
 * phase's wall time is the sum of its runs' (from `POST` to the run's end event). With the
 * modified workload, C (with reuse) goes first in each pair: D's results are committed like any
 * job's and are the same steps as C's, so D first would leave C nothing to compute; C first
 * leaves D nothing it can use (it never reuses), and C after D of an earlier pipeline finds
 * nothing C's earlier runs did not already make.
 * @param {Bench} bench
 * @param {(line: string) => void} say
 * @param {string[]} problems  what went wrong is added here
 * @param {{ phase: string, what: string, pipelines: Pipeline[] }} first
 * @param {{ phase: string, what: string, pipelines: Pipeline[] }} second
 * @param {string} [key]
 */
export async function runInterleaved(bench, say, problems, first, second, key) {
  say(
    `phases ${first.phase} and ${second.phase}, pipeline by pipeline: ${first.what}; ${second.what}`,
  );
  /** @type {[PipelineRun[], PipelineRun[]]} */
  const runs = [[], []];
  /** @type {[CpuUse[], CpuUse[]]} */
  const cpus = [[], []];
  /** @type {number[]} */
  const loadAverages = [];
  for (let i = 0; i < Math.min(first.pipelines.length, second.pipelines.length); i++) {
    loadAverages.push(round(os.loadavg()[0] ?? 0, 2));
    for (const [at, ph] of /** @type {const} */ ([
      [0, first],
      [1, second],
    ])) {
      const p = ph.pipelines[i];
      if (p === undefined || bench.died() !== undefined) continue;
      const before = cpuSnapshot(bench.home);
      runs[at].push(await runPipeline(bench, problems, ph.phase, p, key));
      cpus[at].push(cpuUse(before, cpuSnapshot(bench.home)));
    }
  }
  /** @param {0 | 1} at */
  const describe = (at) => {
    const ph = at === 0 ? first : second;
    const wallSec = runs[at].reduce((t, r) => t + (r.wallSec ?? 0), 0);
    return describePhase(
      bench,
      say,
      problems,
      { ...ph, runs: runs[at], wallSec, cpu: sumCpu(cpus[at]) },
      key,
    );
  };
  const a = await describe(0);
  const b = await describe(1);
  // Each pair's ratio (second / first: D / C), the load average as the pair began, and the spread
  // of the phases' ratio over the pipelines (a bootstrap over pairs: the workload's pipelines
  // drawn again with replacement, seeded, so the interval is the same for the same runs).
  const pairs = runs[0].map((r, i) => {
    const other = runs[1][i];
    const wall = [r.wallSec, other?.wallSec ?? null];
    return {
      name: r.pipeline.spec.name,
      loadAverage: loadAverages[i] ?? null,
      [first.phase]: wall[0] === null ? null : round(wall[0], 3),
      [second.phase]: wall[1] === null ? null : round(wall[1], 3),
      ratio: wall[0] === null || wall[1] === null ? null : round(wall[1] / wall[0], 2),
    };
  });
  const complete = runs[0]
    .map((r, i) => [r.wallSec, runs[1][i]?.wallSec ?? null])
    .filter((w) => w[0] !== null && w[1] !== null)
    .map((w) => /** @type {[number, number]} */ (w));
  return { phases: /** @type {const} */ ([a, b]), pairs, spread: ratioSpread(complete) };
}

/**
 * The spread of sum(second) / sum(first) over pairs: each pair's own ratio (min, median, max) and
 * a 95 % bootstrap interval of the sums' ratio (2,000 draws of the pairs with replacement, from a
 * fixed seed).
 * @param {[number, number][]} pairs  [first, second] wall seconds
 */
export function ratioSpread(pairs) {
  const ratio = (/** @type {[number, number][]} */ ps) =>
    ps.reduce((t, p) => t + p[1], 0) /
    Math.max(
      1e-9,
      ps.reduce((t, p) => t + p[0], 0),
    );
  let seed = 0x2545f491;
  const random = () => {
    // xorshift32: deterministic, enough for resampling indices.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  /** @type {number[]} */
  const draws = [];
  for (let i = 0; i < 2000 && pairs.length > 0; i++)
    draws.push(
      ratio(
        pairs.map(
          () => /** @type {[number, number]} */ (pairs[Math.floor(random() * pairs.length)]),
        ),
      ),
    );
  draws.sort((x, y) => x - y);
  const own = stats(
    pairs.map((p) => p[1] / Math.max(1e-9, p[0])),
    2,
  );
  return {
    pairs: pairs.length,
    ratio: round(ratio(pairs), 2),
    bootstrap95: [
      round(draws[Math.floor(0.025 * draws.length)] ?? NaN, 2),
      round(draws[Math.min(draws.length - 1, Math.floor(0.975 * draws.length))] ?? NaN, 2),
    ],
    perPair: { min: own.min, p50: own.p50, max: own.max },
  };
}

/** @typedef {ReturnType<typeof cpuUse>} CpuUse */
/** @typedef {{ pipeline: Pipeline, submitted: Awaited<ReturnType<Bench['submitAndWait']>>, wallSec: number | null }} PipelineRun */

/**
 * CPU use over several stretches, summed (the interleaved phases' runs): seconds added up, the
 * percentages weighted by each stretch's wall time.
 * @param {CpuUse[]} parts
 * @returns {CpuUse}
 */
function sumCpu(parts) {
  /** @param {(c: CpuUse) => number} f */
  const sum = (f) => parts.reduce((t, c) => t + f(c), 0);
  /** @param {(c: CpuUse) => Record<string, number>} f */
  const byName = (f) => {
    /** @type {Record<string, number>} */
    const out = {};
    for (const c of parts)
      for (const [name, sec] of Object.entries(f(c))) out[name] = round((out[name] ?? 0) + sec, 2);
    return out;
  };
  const wallSec = sum((c) => c.wallSec);
  /** @param {(c: CpuUse) => number} f */
  const weighted = (f) => round(sum((c) => f(c) * c.wallSec) / Math.max(1e-9, wallSec), 1);
  return {
    wallSec: round(wallSec, 2),
    machineBusyPct: weighted((c) => c.machineBusyPct),
    stealPct: weighted((c) => c.stealPct),
    machineBusySec: round(
      sum((c) => c.machineBusySec),
      2,
    ),
    benchmarkClientSec: round(
      sum((c) => c.benchmarkClientSec),
      2,
    ),
    otherBusySec: round(
      sum((c) => c.otherBusySec),
      2,
    ),
    cpuSecByProcess: byName((c) => c.cpuSecByProcess),
    reapedSecByProcess: byName((c) => c.reapedSecByProcess),
  };
}

/**
 * One pipeline's run: submitted, waited for until its end event.
 * @param {Bench} bench
 * @param {string[]} problems
 * @param {string} phase
 * @param {Pipeline} p
 * @param {string} [key]
 * @returns {Promise<PipelineRun>}
 */
async function runPipeline(bench, problems, phase, p, key) {
  const r = await bench.submitAndWait(p.spec, RUN_TIMEOUT_MS, key);
  const wallSec = r.endedAt === null ? null : (r.endedAt - r.submittedAt) / 1000;
  if (r.endType !== 'run.succeeded')
    problems.push(`phase ${phase}: ${p.spec.name} (${r.id}) ended ${r.endType ?? 'never'}`);
  return { pipeline: p, submitted: r, wallSec };
}

/**
 * A phase's figures from its runs: the run views and job histories read back, steps computed and
 * reused, job time and time saved.
 * @param {Bench} bench
 * @param {(line: string) => void} say
 * @param {string[]} problems
 * @param {{ phase: string, what: string, runs: PipelineRun[], wallSec: number, cpu: CpuUse }} measured
 * @param {string} [key]
 */
async function describePhase(bench, say, problems, measured, key) {
  const { phase, what, runs, wallSec, cpu } = measured;
  /** @param {'GET' | 'POST'} method @param {string} pathname @param {unknown} [body] */
  const projectApi = (method, pathname, body) => bench.api(method, pathname, body, key);
  const details = [];
  for (const r of runs) details.push(await describeRun(projectApi, r, phase, problems));
  const computed = details.reduce((a, d) => a + d.computed, 0);
  const reused = details.reduce((a, d) => a + d.reused, 0);
  const skipped = details.reduce((a, d) => a + d.skipped, 0);
  const result = {
    phase,
    what,
    wallSec: round(wallSec, 2),
    runsWallSec: round(
      details.reduce((a, d) => a + (d.wallSec ?? 0), 0),
      2,
    ),
    runs: details.length,
    steps: computed + reused + skipped,
    computed,
    reused,
    skipped,
    jobSeconds: round(
      details.reduce((a, d) => a + d.jobSeconds, 0),
      2,
    ),
    savedSeconds: round(
      details.reduce((a, d) => a + d.savedSeconds, 0),
      2,
    ),
    cpu,
    pipelines: details,
  };
  say(
    `  ${phase}: ${result.wallSec} s, ${computed} steps computed, ${reused} reused, ${skipped} not needed ` +
      `(jobs ran ${result.jobSeconds} s; other processes took ${cpu.otherBusySec} CPU-s)`,
  );
  for (const d of details)
    say(
      `    ${d.name.padEnd(16)} ${String(d.status).padEnd(10)} ${String(d.wallSec).padStart(7)} s  ` +
        `${d.computed} computed, ${d.reused} reused, ${d.skipped} not needed`,
    );
  return result;
}

/**
 * A run's outcome from its view and its jobs' histories: steps computed and reused, what the jobs
 * ran for, and for a reused run where its time went.
 * @param {(method: 'GET' | 'POST', pathname: string, body?: unknown) => Promise<any>} api
 * @param {PipelineRun} r
 * @param {string} phase
 * @param {string[]} problems
 */
async function describeRun(api, r, phase, problems) {
  const { id } = r.submitted;
  /** @type {any} */
  let view;
  for (let i = 0; i < 100; i++) {
    view = await api('GET', `/api/v1/runs/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(view.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let computed = 0;
  let reused = 0;
  let skipped = 0;
  let jobSeconds = 0;
  /** @type {number[]} */
  const decisions = [];
  /** @type {{ name: string, status: string, reused: boolean, skipped: boolean, seconds: number | null }[]} */
  const jobs = [];
  for (const job of view.jobs) {
    /** @type {HistoryEntry[]} */
    const history = await api('GET', `/api/v1/jobs/${job.id}/history`);
    const at = (/** @type {string} */ type) => {
      const e = history.find((h) => h.type === type);
      return e === undefined ? null : Date.parse(e.time);
    };
    const reusedAt = at('job.reused');
    // A step the reuse plan left out (only steps that take earlier results read it) is neither
    // run nor taken: it ends `job.skipped` with `notNeeded`, a success.
    const skippedAt = at('job.skipped');
    const notNeeded = skippedAt !== null && job.notNeeded !== undefined;
    const queuedAt = at('job.queued');
    const startedAt = at('job.started');
    const endedAt = at('job.succeeded') ?? at('job.failed');
    const decidedAt = reusedAt ?? queuedAt;
    if (decidedAt !== null) decisions.push(decidedAt);
    const seconds = startedAt !== null && endedAt !== null ? (endedAt - startedAt) / 1000 : null;
    if (reusedAt !== null) reused++;
    else if (notNeeded) skipped++;
    else computed++;
    if (seconds !== null) jobSeconds += seconds;
    jobs.push({
      name: job.name,
      status: job.status,
      reused: reusedAt !== null,
      skipped: notNeeded,
      seconds: seconds === null ? null : round(seconds, 2),
    });
    if (job.status !== 'succeeded' && !(job.status === 'skipped' && notNeeded))
      problems.push(`phase ${phase}: ${view.name} job ${job.name} is ${job.status}`);
  }
  decisions.sort((x, y) => x - y);
  const endWall =
    r.submitted.endedAt === null
      ? null
      : r.submitted.submittedAtMs + (r.submitted.endedAt - r.submitted.submittedAt);
  const acceptedAt = r.submitted.events.get('run.submitted');
  return {
    name: r.pipeline.spec.name,
    runId: id,
    status: view.status,
    wallSec: r.wallSec === null ? null : round(r.wallSec, 3),
    computed,
    reused,
    skipped,
    jobSeconds: round(jobSeconds, 2),
    savedSeconds: round(view.reuse?.savedSeconds ?? 0, 2),
    acceptMs: acceptedAt === undefined ? 0 : round(acceptedAt - r.submitted.submittedAt, 1),
    submitToFirstDecisionMs:
      decisions[0] === undefined ? null : decisions[0] - r.submitted.submittedAtMs,
    betweenDecisionsMs: decisions.slice(1).map((t, i) => t - (decisions[i] ?? t)),
    lastDecisionToEndMs:
      endWall === null || decisions.length === 0
        ? null
        : round(endWall - (decisions[decisions.length - 1] ?? 0), 1),
    jobs,
  };
}
