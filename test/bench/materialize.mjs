// @ts-check
// The `materialize` benchmark (the provenance issue's second figure): the `reuse` workload under
// storage budgets. For each configuration, in a project of its own on one stack (reuse never
// crosses projects), the same sequence:
//
//   1. the workload with `reuse: "never"` (phase A of `reuse`): every step computed; its derived
//      bytes are what the budgets are fractions of;
//   2. the budget set (`PUT /api/v1/projects/{name}/storage-budget`, answered after one round of
//      evictions);
//   3. measured: the unchanged workload, then the modified one, both with reuse (phases B and C of
//      `reuse`): a step whose earlier output was evicted is computed again.
//
// Configurations: keep everything (no budget), keep nothing (budget 0), and at 10 %, 25 % and 50 %
// of the derived bytes the materializer by utility and by LRU. Goal: utility beats LRU at every
// budget (less time for the measured sequence).
import os from 'node:os';
import path from 'node:path';
import { countLogLines, round } from './lib.mjs';
import { runProgram, startMnistStack } from './mnist-stack.mjs';
import { RUN_TIMEOUT_MS, runWorkload, withReuse, workload } from './reuse.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */
/** @typedef {Awaited<ReturnType<typeof runWorkload>>} Phase */
/**
 * @typedef {object} Configuration
 * @property {string} name
 * @property {number | null} fraction  of A's derived bytes; null: no budget
 * @property {'utility' | 'lru' | 'lru-strict'} policy
 */

const FRACTIONS = [0.1, 0.25, 0.5];

/** @type {Configuration[]} */
export const CONFIGURATIONS = [
  { name: 'keep-everything', fraction: null, policy: 'utility' },
  { name: 'keep-nothing', fraction: 0, policy: 'utility' },
  ...FRACTIONS.flatMap((f) =>
    // lru: the baseline as first measured (most recent first while they fit, skipping one too
    // big); lru-strict: a cache's LRU (least recent evicted until the rest fits), added later.
    /** @type {const} */ (['utility', 'lru', 'lru-strict']).map((policy) => ({
      name: `${policy}-${Math.round(f * 100)}`,
      fraction: f,
      policy,
    })),
  ),
];

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const { say } = ctx;
  const loadAverageAtStart = os.loadavg().map((x) => round(x, 2));
  // Rounds of evictions at fixed points of the sequence (when the budget is set after A, and again
  // after B), not every 30 s: with the default interval, whether a round falls between the run
  // that made an artifact and the run that reuses it is a coin toss that decided the first
  // measurement (docs/benchmarks.md). `ACAI_BENCH_MATERIALIZE_INTERVAL_MS` restores a timer.
  const intervalMs = process.env['ACAI_BENCH_MATERIALIZE_INTERVAL_MS'] ?? '0';
  const bench = await startMnistStack(ctx, 'materialize', {
    ACAI_MATERIALIZE_INTERVAL_MS: intervalMs,
  });
  const { home, stack, api } = bench;
  /** @type {string[]} */
  const problems = [];
  let ok = false;
  try {
    const examples = await stack.examples();
    const { original, modified } = workload(examples, { pca: true });
    /** @param {string} key */
    const importData = async (key) => {
      for (const example of ['mnist', 'tabular'])
        await runProgram(
          process.execPath,
          [path.join(ctx.root, `examples/${example}/import.mjs`)],
          {
            ACAI_URL: stack.gatewayUrl,
            ACAI_KEY: key,
          },
        );
    };
    await importData(stack.key());

    // Warm-up in `default`, not measured: one tabular and one MNIST pipeline with a seed no
    // configuration uses.
    say('warm-up: one tabular and one MNIST pipeline with a seed no configuration uses');
    for (const p of [original[0], original.find((x) => x.user === 'ivan')]) {
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

    /** One configuration's sequence, in its own project. @param {Configuration} c */
    const measure = async (c) => {
      const project = `mat-${c.name}`;
      say(`${c.name}: project ${project}`);
      const { key } = await api('POST', '/api/v1/projects', { name: project });
      await importData(key);
      /** @param {string} phase @param {string} what @param {typeof original} pipelines */
      const phase = (phase, what, pipelines) =>
        runWorkload(bench, say, problems, `${c.name}/${phase}`, what, pipelines, key);
      const budgetPath = `/api/v1/projects/${project}/storage-budget`;

      const a = await phase('A', 'the workload, reuse: never', withReuse(original, true));
      const afterA = await api('GET', budgetPath, undefined, key);
      const budgetBytes = c.fraction === null ? null : Math.floor(afterA.derivedBytes * c.fraction);
      const setAt = Date.now();
      const afterBudget =
        budgetBytes === null
          ? afterA
          : await api('PUT', budgetPath, { bytes: budgetBytes, policy: c.policy }, key);
      const setMs = Date.now() - setAt;
      say(
        `  budget ${budgetBytes ?? 'none'} of ${afterA.derivedBytes} derived bytes (${c.policy}): ` +
          `${afterBudget.evictedVersions} versions evicted in ${setMs} ms, ${afterBudget.derivedBytes} bytes kept`,
      );

      const b = await phase(
        'B',
        'the workload again, unchanged, with reuse',
        withReuse(original, false),
      );
      // The budget set again: a round of evictions over what B made.
      const secondAt = Date.now();
      const afterB =
        budgetBytes === null
          ? null
          : await api('PUT', budgetPath, { bytes: budgetBytes, policy: c.policy }, key);
      const secondRoundMs = Date.now() - secondAt;
      const cc = await phase('C', 'the modified workload, with reuse', withReuse(modified, false));
      const atEnd = await api('GET', budgetPath, undefined, key);
      // Read at the end: the experiment graph learns of evictions from the log, after the answer.
      const evicted = await evictedArtifacts(api, key);
      const sequence = [b, cc];
      /** @param {Phase} p */
      const recomputed = (p) =>
        p.pipelines.flatMap((r) =>
          r.jobs.filter((j) => !j.reused && !j.skipped).map((j) => `${r.name}/${j.name}`),
        );
      return {
        configuration: c.name,
        policy: c.fraction === null ? null : c.policy,
        fraction: c.fraction,
        project,
        derivedBytesAfterA: afterA.derivedBytes,
        derivedVersionsAfterA: afterA.derivedVersions,
        budgetBytes,
        setBudgetMs: setMs,
        evictedVersions: afterBudget.evictedVersions,
        keptBytesAfterBudget: afterBudget.derivedBytes,
        evictedAfterB: afterB?.evictedVersions ?? 0,
        secondRoundMs,
        keptBytesAfterB: afterB?.derivedBytes ?? atEnd.derivedBytes,
        keptBytesAtEnd: atEnd.derivedBytes,
        evictedAtEnd: atEnd.evictedVersions,
        sequenceWallSec: round(
          sequence.reduce((s, p) => s + p.wallSec, 0),
          2,
        ),
        sequenceJobSeconds: round(
          sequence.reduce((s, p) => s + p.jobSeconds, 0),
          2,
        ),
        computed: sequence.reduce((s, p) => s + p.computed, 0),
        reused: sequence.reduce((s, p) => s + p.reused, 0),
        evicted,
        computedInB: recomputed(b),
        computedInC: recomputed(cc),
        phases: { A: a, B: b, C: cc },
      };
    };
    /** @type {Awaited<ReturnType<typeof measure>>[]} */
    const results = [];
    // `ACAI_BENCH_MATERIALIZE_CONFIGURATIONS=utility-50,lru-50`: only those (several stacks can then
    // measure a share each, side by side; the JSON says which ran).
    const only = process.env['ACAI_BENCH_MATERIALIZE_CONFIGURATIONS']?.split(',').filter(Boolean);
    for (const c of CONFIGURATIONS.filter((x) => only === undefined || only.includes(x.name))) {
      if (bench.died() !== undefined) break;
      results.push(await measure(c));
    }
    if (bench.died() !== undefined) problems.push(`a service died: ${bench.died()}`);

    const comparison = FRACTIONS.map((f) => {
      const of = (/** @type {string} */ policy) =>
        results.find((r) => r.fraction === f && r.policy === policy);
      const u = of('utility');
      const l = of('lru');
      const strict = of('lru-strict');
      return {
        fraction: f,
        utilitySec: u?.sequenceWallSec ?? null,
        lruSec: l?.sequenceWallSec ?? null,
        lruStrictSec: strict?.sequenceWallSec ?? null,
        utilityComputed: u?.computed ?? null,
        lruComputed: l?.computed ?? null,
        lruStrictComputed: strict?.computed ?? null,
        beatsLru: u === undefined || l === undefined ? null : u.sequenceWallSec < l.sequenceWallSec,
        beatsLruStrict:
          u === undefined || strict === undefined
            ? null
            : u.sequenceWallSec < strict.sequenceWallSec,
      };
    });

    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const errorCount = Object.values(logErrors).reduce((s, n) => s + n, 0);
    if (errorCount > 0)
      problems.push(
        `service logs have ${errorCount} error lines: ${JSON.stringify(logErrors)} (see ${stack.logDir})`,
      );

    say('');
    say(
      'configuration      budget B   evicted   B+C wall s  job s  computed  reused  kept B at end',
    );
    for (const r of results)
      say(
        `${r.configuration.padEnd(18)} ${String(r.budgetBytes ?? '-').padStart(8)}  ` +
          `${String(r.evictedVersions).padStart(7)}  ${String(r.sequenceWallSec).padStart(10)}  ` +
          `${String(r.sequenceJobSeconds).padStart(5)}  ${String(r.computed).padStart(8)}  ` +
          `${String(r.reused).padStart(6)}  ${String(r.keptBytesAtEnd).padStart(13)}`,
      );
    for (const x of comparison)
      say(
        `${Math.round(x.fraction * 100)} %: utility ${x.utilitySec} s (${x.utilityComputed} computed) ` +
          `against LRU ${x.lruSec} s (${x.lruComputed} computed): ${x.beatsLru ? 'beats LRU' : 'does NOT beat LRU'}`,
      );
    for (const r of results)
      if (r.evicted.length > 0)
        say(
          `  ${r.configuration} evicted: ${r.evicted.map((e) => `${e.id} (${e.bytes} B, ${e.computeSeconds} s, q ${e.quality})`).join(', ')}`,
        );
    for (const p of problems) say(`PROBLEM: ${p}`);
    ok = problems.length === 0;

    const file = ctx.writeResult(
      only === undefined ? 'materialize' : `materialize-${only.join('+')}`,
      {
        benchmark: 'materialize',
        date: new Date().toISOString(),
        ok,
        machine: {
          ...ctx.machine(),
          natsServer: bench.natsVersion(),
          loadAverageAtStart,
          loadAverageAtEnd: os.loadavg().map((x) => round(x, 2)),
        },
        sequence:
          'A (reuse: never) -> set the budget -> B (unchanged, reuse) -> the budget set again -> C (modified, reuse); measured: B + C',
        materializeIntervalMs: Number(intervalMs),
        comparison,
        configurations: results,
        notes: problems,
      },
    );
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
 * The project's evicted artifacts, from the experiment graph: what each is and what it cost.
 * @param {Awaited<ReturnType<typeof startMnistStack>>['api']} api
 * @param {string} key
 */
async function evictedArtifacts(api, key) {
  /** @type {Map<string, { id: string, bytes: number | null, computeSeconds: number | null, reads: number, reuses: number, quality: number | null }>} */
  const evicted = new Map();
  /** @type {string | null} */
  let cursor = null;
  for (let page = 0; page < 50; page++) {
    /** @type {{ artifacts: { id: string, bytes: number | null, computeSeconds: number | null, reads: number, reuses: number, quality: number | null, evicted: boolean }[], nextCursor: string | null }} */
    const view = await api(
      'GET',
      `/api/v1/experiment-graph?limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      undefined,
      key,
    );
    for (const a of view.artifacts)
      if (a.evicted)
        evicted.set(a.id, {
          id: a.id,
          bytes: a.bytes,
          computeSeconds: a.computeSeconds === null ? null : round(a.computeSeconds, 2),
          reads: a.reads,
          reuses: a.reuses,
          quality: a.quality === null ? null : round(a.quality, 4),
        });
    cursor = view.nextCursor;
    if (cursor === null) break;
  }
  return [...evicted.values()];
}
