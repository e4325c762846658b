// @ts-check
// `npm run bench` runs every benchmark; `npm run bench -- dispatch` runs one by name.
// Options after the names: `--n=500` overrides a benchmark's count, `--keep` keeps the stack's
// temporary home (logs, NATS store, Postgres data) even when the benchmark passed.
// Each benchmark writes its figures to bench/results/<name>.json. See test/bench/README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..');
const resultsDir = path.join(root, 'bench', 'results');

/**
 * @typedef {object} BenchContext
 * @property {string} root              the repository root
 * @property {number | undefined} n     a count given with --n, or undefined for the benchmark's own
 * @property {boolean} keep             keep temporary state (logs, data) after a passing run
 * @property {(line: string) => void} say
 * @property {(name: string, result: object) => string} writeResult  writes bench/results/<name>.json; returns its path
 * @property {() => ReturnType<typeof machine>} machine  facts about this machine, for the result
 */

/**
 * @typedef {object} BenchOutcome
 * @property {boolean} ok        false when the benchmark saw something wrong (failed jobs, timeouts):
 *                               its figures are still written, and `npm run bench` exits with 1
 * @property {string} [file]     where its JSON went
 */

/**
 * @typedef {object} Benchmark
 * @property {string} description
 * @property {() => Promise<{ run: (ctx: BenchContext) => Promise<BenchOutcome> }>} load
 */

/** Every benchmark, in the order `npm run bench` runs them. Add new ones here (catalog, provisioning, ...). */
/** @type {Record<string, Benchmark>} */
export const BENCHMARKS = {
  dispatch: {
    description:
      '2,000 no-op runs through the gateway to run.succeeded, against a raw JetStream round trip',
    load: () => import('./dispatch.mjs'),
  },
  catalog: {
    description:
      'file sets: a 1 GiB file up and down through the gateway against cp, and a commit of 10,000 small files',
    load: () => import('./catalog.mjs'),
  },
  search: {
    description:
      '1,000,000 versions with varied metadata and labels: p50/p95 of ten typical searches',
    load: () => import('./search.mjs'),
  },
  provisioning: {
    description:
      'the MNIST pipeline on every fixed local configuration (real CPU/memory limits, catalogue prices) against the auto-provisioner and an oracle',
    load: () => import('./provisioning.mjs'),
  },
  simulation: {
    description:
      'the simulated provider: 10,000 jobs (100 runs x 100 steps, mixed types, on-demand and Spot) on up to 1,000 simulated nodes',
    load: () => import('./simulation.mjs'),
  },
  sweep: {
    description:
      'the MNIST sweep (8 trials, 2 at a time) with its median-rule early stopping and without: time to the best model, its test accuracy, trials stopped, trial-epochs',
    load: () => import('./sweep.mjs'),
  },
  scheduling: {
    description:
      'SMLT-style: 200 training jobs sized from MNIST on this machine, with deadlines or budgets and frequent Spot losses, on the simulated provider: fixed configurations (smallest, a user pick, largest, best in hindsight) against adaptive scheduling; then MNIST for real under a deadline 1 CPU misses (the rescale round)',
    load: () => import('./scheduling.mjs'),
  },
  rescale: {
    description:
      'the scheduling benchmark’s real round alone: MNIST under a deadline 1 CPU misses: fixed 1 CPU, fixed 2 CPU, and acai starting on 1 CPU and rescaling while it trains',
    load: () => import('./mnist-rescale.mjs'),
  },
  reuse: {
    description:
      'reuse of earlier results: 17 overlapping pipelines (weather and flights tables, MNIST) without reuse, again unchanged with reuse, then modified with and without reuse',
    load: () => import('./reuse.mjs'),
  },
  materialize: {
    description:
      'the reuse workload under storage budgets of 10, 25 and 50 % of its derived bytes: the materializer by utility against LRU, keep-everything and keep-nothing (each in its own project)',
    load: () => import('./materialize.mjs'),
  },
  planner: {
    description:
      'planner overhead: 10,000 synthetic workload DAGs signed and looked up against 100,000 jobs of job signatures in Postgres, in-process; and findReusable over NATS on the stack',
    load: () => import('./planner.mjs'),
  },
  replay: {
    description:
      '100,000 job events replayed into job history beside the live view and swapped in, against reading them from JetStream',
    load: () => import('./replay.mjs'),
  },
  lineage: {
    description:
      'a lineage graph of 100,000 jobs (pipelines of 4 steps sharing data sets, chained by fine-tuning): p50/p95/p99 of walks up and down at depths 1, 5, 50 and of impact, through the gateway',
    load: () => import('./lineage.mjs'),
  },
};

/** Machine facts every result carries. */
function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** @param {string} name @param {object} result */
function writeResult(name, result) {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

async function main() {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith('--'));
  const nArg = args.find((a) => a.startsWith('--n='));
  const n = nArg === undefined ? undefined : Number(nArg.slice('--n='.length));
  if (n !== undefined && (!Number.isInteger(n) || n <= 0)) {
    console.error(`--n wants a positive integer, got '${nArg}'`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log('usage: npm run bench [-- <name>... [--n=<count>] [--keep]]\n\nbenchmarks:');
    for (const [name, b] of Object.entries(BENCHMARKS))
      console.log(`  ${name.padEnd(14)}${b.description}`);
    return 0;
  }
  const unknown = names.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`,
    );
    return 2;
  }
  const selected = names.length > 0 ? names : Object.keys(BENCHMARKS);
  let failed = 0;
  for (const name of selected) {
    const bench = /** @type {Benchmark} */ (BENCHMARKS[name]);
    /** @param {string} line */
    const say = (line) => console.log(`[bench:${name}] ${line}`);
    say(bench.description);
    const started = Date.now();
    try {
      const module = await bench.load();
      const outcome = await module.run({
        root,
        n,
        keep: args.includes('--keep'),
        say,
        writeResult,
        machine,
      });
      if (outcome.file) say(`results: ${path.relative(root, outcome.file)}`);
      if (!outcome.ok) {
        failed++;
        say('FAILED: see above');
      }
    } catch (error) {
      failed++;
      console.error(
        `[bench:${name}] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
    say(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
