// @ts-check
// The `planner` benchmark (the provenance issue's third figure): planner overhead, N synthetic
// workload DAGs (default 10,000, `--n`) planned against a graph of 10 × N jobs (100,000) in
// provenance's `job_signatures`. Goal: under 1 ms per DAG (the Experiment Graph paper: about 8 ms;
// Helix: 350 ms).
//
// Our planner decides per step, when the step is ready (the scheduler's ReusePlanner): it hashes the
// step's code (CodeHasher), signs the job (signJob, libs/runs), looks up the project's newest result
// with that signature (findReusable: provenance's SqlSignaturesRepository.findResult, an indexed
// query), and verifies the versions of a result found with the catalog. Measured here, in this
// process, against the stack's real Postgres: the code hash (of examples/tabular/dist, as the reuse
// workload's steps name it), the signature and the lookup, per step in dependency order. Not in it:
// the bus round trip scheduler -> provenance (measured separately below through NATS against the
// running provenance service), the catalog's verifyVersion of a found result (another round trip
// per reused step), and the events a decision appends.
//
// The graph is made by provenance's own SignaturesProjection.apply from synthetic job.queued (with
// its signature) and job.succeeded events, in transactions of 4,000 events, as a replay would.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { startStack } from '../../libs/devstack/dist/index.js';
import { lookupLevels, mayLookUp, planReuse, signJob } from '../../libs/runs/dist/index.js';
import { CodeHasher } from '../../apps/scheduler/dist/runs/code-hasher.js';
import { SignaturesProjection } from '../../apps/provenance/dist/reuse/signatures.projection.js';
import { SqlSignaturesRepository } from '../../apps/provenance/dist/reuse/signatures.repository.js';
import { ResultsIndex } from '../../apps/provenance/dist/reuse/results-index.js';
import { LineageProjection } from '../../apps/provenance/dist/lineage/lineage.projection.js';
import { round, stats } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */
/** @typedef {import('@acai/contracts').StoredEvent} StoredEvent */
/** @typedef {import('@acai/contracts').HashedCode} HashedCode */

const DEFAULT_DAGS = 10_000;
/** Jobs in the graph per planned DAG. */
const GRAPH_PER_DAG = 10;
/** Steps of each seeded pipeline (the graph is pipelines of this many steps). */
const SEEDED_STEPS = 8;
const BATCH = 4_000;
const PROJECT = 'default';
const GOAL_MS = 1;
const PAPER_MS = 8;
const HELIX_MS = 350;
/** Lookups sent through NATS to the running provenance service. */
const BUS_LOOKUPS = 2_000;

const sha = (/** @type {string} */ s) => createHash('sha256').update(s).digest('hex');

/**
 * What the scheduler signs for step `j` of a pipeline with parameters `params`, reading the
 * output of the step before it (by content: the stand-in for its manifest hash is a hash of that
 * step's signature, so a changed step changes what every step after it reads).
 * @param {string} dist @param {number} j @param {string} params @param {string | null} upstream
 * @param {HashedCode[]} code
 */
function jobOf(dist, j, params, upstream, code) {
  return {
    command: ['node', path.join(dist, 'train.js')],
    env: { STEP: String(j), PARAMS: params },
    secrets: {},
    inputs:
      upstream === null
        ? [{ fileset: 'raw', version: 1, manifestSha256: sha('raw'), path: 'raw' }]
        : [{ fileset: `out-${j - 1}`, version: 1, manifestSha256: sha(upstream), path: 'in' }],
    outputs: [{ fileset: `out-${j}`, path: 'out', labels: [], save: true }],
    code,
  };
}

/**
 * The graph's events: `pipelines` pipelines of SEEDED_STEPS steps, pipeline p with parameters
 * `p<p>`, each job queued with its signature and succeeded with one output version.
 * @param {string} dist @param {number} pipelines @param {HashedCode[]} code
 * @returns {Generator<StoredEvent>}
 */
function* graphEvents(dist, pipelines, code) {
  let seq = 0;
  const time = new Date(Date.UTC(2026, 0, 1)).toISOString();
  /** @param {string} type @param {string} id @param {unknown} data @param {string} [aggregate] */
  const event = (type, id, data, aggregate = 'job') =>
    /** @type {StoredEvent} */ (
      /** @type {unknown} */ ({
        id: `evt-${++seq}`,
        type,
        version: 1,
        project: PROJECT,
        aggregate,
        aggregateId: id,
        occurredAt: time,
        causationId: null,
        correlationId: null,
        data,
        position: { stream: 'ACAI_EVENTS', subject: `acai.evt.${PROJECT}.${aggregate}.${id}`, seq },
      })
    );
  for (let p = 0; p < pipelines; p++) {
    /** @type {string | null} */
    let upstream = null;
    for (let j = 0; j < SEEDED_STEPS; j++) {
      const id = `job-${String(p).padStart(21, '0')}${j}s`;
      const job = jobOf(dist, j, `p${p}`, upstream, code);
      const signature = signJob(job);
      yield event('job.queued', id, {
        runId: `run-${String(p).padStart(23, '0')}`,
        name: `step-${j}`,
        command: job.command,
        env: job.env,
        resources: { cpu: 1, memoryMb: 512 },
        inputs: job.inputs,
        outputs: job.outputs,
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
        retries: null,
        signature,
      });
      // Its output's content (the stand-in hash its readers are signed with), as the catalog
      // records the commit: what provenance signs a reader with when it plans a whole DAG.
      const fileset = `out-${j}`;
      yield event(
        'fileset.version_committed',
        fileset,
        {
          version: p + 1,
          parent: p,
          manifest: { sha256: sha(signature.sha256), files: 1, bytes: 10 },
          changes: { added: 1, replaced: 0, deleted: 0 },
          metadata: {},
          labels: [],
          createdBy: {
            kind: 'job',
            jobId: id,
            runId: `run-${String(p).padStart(23, '0')}`,
            step: `step-${j}`,
            parameters: job.env,
            code: null,
          },
        },
        'fileset',
      );
      yield event('job.succeeded', id, {
        exitCode: 0,
        durationMs: 1000,
        outputs: [{ fileset: `out-${j}`, version: p + 1 }],
        attempt: 1,
      });
      upstream = signature.sha256;
    }
  }
}

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const { say } = ctx;
  const dags = ctx.n ?? DEFAULT_DAGS;
  const pipelines = Math.ceil((dags * GRAPH_PER_DAG) / SEEDED_STEPS);
  const dist = path.join(ctx.root, 'examples/tabular/dist');
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-planner-'));
  chmodSync(home, 0o755);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    supervise: false,
    say: (l) => say(`  ${l}`),
  });
  let ok = false;
  /** @type {pg.Client | undefined} */
  let client;
  /** @type {import('@nats-io/nats-core').NatsConnection | undefined} */
  let nc;
  try {
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    client = db;
    db.on('error', () => undefined);
    await db.connect();
    const projection = new SignaturesProjection('provenance');
    // The lineage graph too: provenance loads the content of the versions jobs committed from it.
    const lineage = new LineageProjection('provenance');
    // What the runner hands the projection (a transaction's manager) and what the repository reads
    // through (a DataSource): both only send queries.
    const queries = /** @type {any} */ ({
      /** @param {string} sql @param {unknown[]} [params] */
      query: async (sql, params) => (await db.query(sql, params)).rows,
    });
    const hasher = new CodeHasher();
    const pathVariable = process.env['PATH'] ?? '/usr/bin:/bin';
    const command = ['node', path.join(dist, 'train.js')];
    const seedCode = await hasher.hash(command, [dist], pathVariable);

    say(
      `applying ${(pipelines * SEEDED_STEPS).toLocaleString('en')} jobs (${pipelines.toLocaleString('en')} pipelines of ${SEEDED_STEPS} steps) through the signatures projection...`,
    );
    const loadStarted = performance.now();
    /** @type {StoredEvent[]} */
    let batch = [];
    const flush = async () => {
      await db.query('BEGIN');
      await projection.apply(queries, batch);
      await lineage.apply(queries, batch);
      await db.query('COMMIT');
      batch = [];
    };
    for (const event of graphEvents(dist, pipelines, seedCode)) {
      batch.push(event);
      if (batch.length === BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    await db.query(`VACUUM ANALYZE ${projection.table()}`);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const jobs = Number(
      (await db.query(`SELECT count(*) AS n FROM ${projection.table()}`)).rows[0].n,
    );
    say(`${jobs.toLocaleString('en')} jobs in job_signatures (${loadSeconds.toFixed(1)} s)`);
    const repo = new SqlSignaturesRepository(queries, projection);

    // The DAGs: DAG d has 3-8 steps, a chain (each step reads the one before it, as a planner
    // sees any DAG in dependency order); its first half (rounded) is seeded pipeline d mod P's
    // steps unchanged (an earlier result exists), the rest have other parameters (none exists).
    /** @param {number} d */
    const shapeOf = (d) => {
      const steps = 3 + ((d * 7) % 6);
      return { steps, reusable: Math.round(steps / 2), pipeline: (d * 31) % pipelines };
    };
    /** @type {{ seconds: number, steps: number }[]} */
    const perDag = [];
    let hashMs = 0;
    let signMs = 0;
    let lookupMs = 0;
    let steps = 0;
    let hits = 0;
    let expectedHits = 0;
    /** @type {string[]} */
    const asked = [];
    /**
     * Plans DAG d as the scheduler does (the code hashed for every step), or, with `codeOnce`, with
     * the code hashed once per DAG (what a per-run cache of code hashes would give).
     * @param {number} d @param {boolean} [codeOnce]
     */
    const plan = async (d, codeOnce = false) => {
      const shape = shapeOf(d);
      const started = performance.now();
      /** @type {string | null} */
      let upstream = null;
      /** @type {HashedCode[] | null} */
      let dagCode = null;
      for (let j = 0; j < shape.steps; j++) {
        const t0 = performance.now();
        /** @type {HashedCode[]} */
        const code =
          codeOnce && dagCode !== null ? dagCode : await hasher.hash(command, [dist], pathVariable);
        dagCode = code;
        const t1 = performance.now();
        const params = j < shape.reusable ? `p${shape.pipeline}` : `p${shape.pipeline}-dag${d}`;
        const signature = signJob(jobOf(dist, j, params, upstream, code));
        const t2 = performance.now();
        const result = await repo.findResult(PROJECT, signature.sha256, `job-dag-${d}-${j}`);
        const t3 = performance.now();
        hashMs += t1 - t0;
        signMs += t2 - t1;
        lookupMs += t3 - t2;
        if (result !== null) hits++;
        if (asked.length < BUS_LOOKUPS) asked.push(signature.sha256);
        upstream = signature.sha256;
      }
      steps += shape.steps;
      expectedHits += shape.reusable;
      return { seconds: (performance.now() - started) / 1000, steps: shape.steps };
    };
    say(`warm-up: 200 DAGs`);
    for (let d = 0; d < 200; d++) await plan(dags + d);
    hashMs = signMs = lookupMs = 0;
    steps = hits = expectedHits = 0;
    asked.length = 0;
    const loadBefore = os.loadavg().map((x) => round(x, 2));
    say(`planning ${dags.toLocaleString('en')} DAGs...`);
    const started = performance.now();
    for (let d = 0; d < dags; d++) perDag.push(await plan(d));
    const totalSec = (performance.now() - started) / 1000;
    const perDagMs = stats(
      perDag.map((x) => x.seconds * 1000),
      3,
    );
    const problems = [];
    if (hits !== expectedHits)
      problems.push(`found ${hits} earlier results, expected ${expectedHits}`);
    const components = {
      codeHash: hashMs / Math.max(steps, 1),
      sign: signMs / Math.max(steps, 1),
      lookup: lookupMs / Math.max(steps, 1),
    };
    say(`again with the code hashed once per DAG (a per-run cache)...`);
    /** @type {number[]} */
    const onceMs = [];
    for (let d = 0; d < dags; d++) onceMs.push((await plan(d, true)).seconds * 1000);
    const perDagCodeOnceMs = stats(onceMs, 3);

    // The plan at submit (planReuse, libs/runs): the DAG's code hashed once (the hasher remembers
    // it, checked by stat), its steps looked up level by level, only those whose inputs' content
    // is known (every step they read has an earlier result), then the forward and backward passes.
    // A chain of s steps whose first r have earlier results: r + 1 lookups, and the plan is step r
    // computed, step r - 1 taken (it reads it), the r - 1 before it left out, the rest decided
    // when step r has committed its output.
    let submitLookups = 0;
    /** @type {Record<string, number>} */
    const submitCounts = { reuse: 0, compute: 0, not_needed: 0, when_ready: 0 };
    /**
     * @param {number} d
     * @param {(signature: string, exclude: string) => Promise<import('@acai/contracts').ReusableResult | null>} find
     */
    const planAtSubmit = async (d, find) => {
      const shape = shapeOf(d);
      const started = performance.now();
      const code = await hasher.hash(command, [dist], pathVariable);
      const planSteps = chainSteps(shape.steps);
      /** @type {Map<string, import('@acai/runs').ReuseFinding>} */
      const findings = new Map();
      /** Each step's signature, the stand-in for its earlier result's content downstream. */
      /** @type {Map<string, string>} */
      const signed = new Map();
      for (const level of lookupLevels(planSteps)) {
        const ready = level.filter((id) => mayLookUp(planSteps[Number(id.slice(1))], findings));
        const found = await Promise.all(
          ready.map((id) => {
            const j = Number(id.slice(1));
            const params = j < shape.reusable ? `p${shape.pipeline}` : `p${shape.pipeline}-dag${d}`;
            const upstream = j === 0 ? null : (signed.get(`s${j - 1}`) ?? null);
            const signature = signJob(jobOf(dist, j, params, upstream, code));
            signed.set(id, signature.sha256);
            return find(signature.sha256, `job-dag-${d}-${j}`);
          }),
        );
        submitLookups += ready.length;
        ready.forEach((id, i) => {
          const result = found[i];
          findings.set(id, findingOf(result));
        });
      }
      const planned = planReuse(planSteps, findings);
      const ms = performance.now() - started;
      for (const [kind, n] of Object.entries(planned.counts)) submitCounts[kind] += n;
      checkPlanned(planned, shape, `DAG ${d}`, problems);
      return ms;
    };
    /** @type {(signature: string, exclude: string) => Promise<import('@acai/contracts').ReusableResult | null>} */
    const inPostgres = (signature, exclude) => repo.findResult(PROJECT, signature, exclude);
    say(`the plan at submit (forward and backward pass, lookups by level)...`);
    for (let d = 0; d < 200; d++) await planAtSubmit(dags + d, inPostgres);
    submitLookups = 0;
    for (const k of Object.keys(submitCounts)) submitCounts[k] = 0;
    /** @type {number[]} */
    const submitMs = [];
    for (let d = 0; d < dags; d++) submitMs.push(await planAtSubmit(d, inPostgres));
    const perDagSubmitMs = stats(submitMs, 3);

    // The same plan with the lookups answered by provenance's in-memory index (ResultsIndex, what
    // `findReusable` answers from), built from the same events as the table, in this process.
    const heapBefore = process.memoryUsage().heapUsed;
    const indexStarted = performance.now();
    const index = new ResultsIndex();
    /** @type {StoredEvent[]} */
    let built = [];
    for (const event of graphEvents(dist, pipelines, seedCode)) {
      built.push(event);
      if (built.length === BATCH) {
        index.applyJobs(built);
        built = [];
      }
    }
    index.applyJobs(built);
    built = [];
    const indexSeconds = (performance.now() - indexStarted) / 1000;
    const indexMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 ** 2;
    say(
      `in-memory index: ${index.size.results.toLocaleString('en')} signatures in ${indexSeconds.toFixed(1)} s, about ${indexMb.toFixed(0)} MB of heap`,
    );
    /** @type {(signature: string, exclude: string) => Promise<import('@acai/contracts').ReusableResult | null>} */
    const inMemory = async (signature, exclude) =>
      index.findResults(PROJECT, signature, exclude, 1)[0] ?? null;
    const lookupsPostgres = submitLookups;
    for (let d = 0; d < 200; d++) await planAtSubmit(dags + d, inMemory);
    for (const k of Object.keys(submitCounts)) submitCounts[k] = 0;
    submitLookups = 0;
    /** @type {number[]} */
    const indexMs = [];
    for (let d = 0; d < dags; d++) indexMs.push(await planAtSubmit(d, inMemory));
    const perDagIndexMs = stats(indexMs, 3);
    submitLookups = lookupsPostgres;
    // The figures below are the first pass's (the scheduler's way).
    steps /= 2;
    hits /= 2;
    expectedHits /= 2;

    // The bus: the same lookups as the scheduler sends them (findReusable, core NATS request/reply
    // to the provenance service), one at a time.
    nc = await connect({ ...stack.natsOperator, name: 'bench-planner' });
    const subject = 'acai.cmd.provenance.find_reusable';
    const encoder = new TextEncoder();
    /** @param {string} signature */
    const ask = async (signature) => {
      const reply = await /** @type {import('@nats-io/nats-core').NatsConnection} */ (nc).request(
        subject,
        encoder.encode(
          JSON.stringify({ project: PROJECT, signature, excludeJobId: 'job-bench-planner' }),
        ),
        { timeout: 10_000 },
      );
      return JSON.parse(new TextDecoder().decode(reply.data));
    };
    for (const s of asked.slice(0, 100)) await ask(s);
    /** @type {number[]} */
    const busMs = [];
    let busHits = 0;
    for (const s of asked) {
      const t0 = performance.now();
      const body = await ask(s);
      busMs.push(performance.now() - t0);
      if (!body.ok) problems.push(`findReusable answered ${JSON.stringify(body.error)}`);
      else if (body.result.results.length > 0) busHits++;
      if (problems.length > 5) break;
    }
    const bus = stats(busMs, 3);

    // Provenance's own index (ResultsIndex, what `findReusable` answers from): heap per signed job,
    // measured here with the collector run before and after, so only what the index keeps counts.
    v8.setFlagsFromString('--expose-gc');
    const gc = /** @type {() => void} */ (vm.runInNewContext('gc'));
    gc();
    const heapEmpty = process.memoryUsage().heapUsed;
    const results = new ResultsIndex();
    /** @type {StoredEvent[]} */
    let chunk = [];
    for (const event of graphEvents(dist, pipelines, seedCode)) {
      chunk.push(event);
      if (chunk.length === BATCH) {
        results.applyJobs(chunk);
        chunk = [];
      }
    }
    results.applyJobs(chunk);
    chunk = [];
    gc();
    const bytesPerJob = (process.memoryUsage().heapUsed - heapEmpty) / results.size.jobs;
    say(
      `provenance's index: ${results.size.jobs.toLocaleString('en')} jobs, ${Math.round(bytesPerJob)} bytes of heap each`,
    );

    // As the service does it: provenance restarted, so that it loads its index from the table
    // written above (it holds no events of it), then the plan at submit sending each level's
    // lookups in one findReusableMany to provenance, answered from its index. Not in it: the
    // catalog's getVersion of each input and verifyVersion of each result found (the scheduler's
    // other round trips), and the code hash (in the in-process rows).
    say('restarting provenance so that it loads its index from the table...');
    await stack.stopService('provenance');
    const logFile = path.join(home, 'logs', 'provenance.log');
    const marks = () =>
      readFileSync(logFile, 'utf8').split('reuse lookups answered from memory').length - 1;
    const before = marks();
    const restarted = performance.now();
    await stack.startService('provenance');
    while (marks() === before) await new Promise((r) => setTimeout(r, 100));
    const indexReadySeconds = (performance.now() - restarted) / 1000;
    say(`provenance answers from its index ${indexReadySeconds.toFixed(1)} s after it was started`);
    const manySubject = 'acai.cmd.provenance.find_reusable_many';
    /** @param {{ signature: string, excludeJobId: string }[]} lookups */
    const askMany = async (lookups) => {
      const reply = await /** @type {import('@nats-io/nats-core').NatsConnection} */ (nc).request(
        manySubject,
        encoder.encode(JSON.stringify({ project: PROJECT, lookups, limit: 5 })),
        { timeout: 10_000 },
      );
      const body = JSON.parse(new TextDecoder().decode(reply.data));
      if (!body.ok) throw new Error(`findReusableMany answered ${JSON.stringify(body.error)}`);
      return /** @type {import('@acai/contracts').ReusableResult[][]} */ (body.result.results);
    };
    /** Each level's lookups together, as the scheduler's planRun sends them. */
    let roundTrips = 0;
    /** @type {Map<string, Promise<import('@acai/contracts').ReusableResult | null>>} */
    let waiting = new Map();
    /** @type {(signature: string, exclude: string) => Promise<import('@acai/contracts').ReusableResult | null>} */
    const throughBus = (signature, exclude) => {
      // planAtSubmit asks a level's lookups in one Promise.all: they are gathered and sent once.
      const key = `${signature}\u0000${exclude}`;
      let found = waiting.get(key);
      if (found === undefined) {
        if (waiting.size === 0) {
          queueMicrotask(() => {
            const level = waiting;
            waiting = new Map();
            roundTrips++;
            const keys = [...level.keys()];
            const sent = askMany(
              keys.map((k) => {
                const [sig, ex] = k.split('\u0000');
                return {
                  signature: /** @type {string} */ (sig),
                  excludeJobId: /** @type {string} */ (ex),
                };
              }),
            );
            keys.forEach((k, i) => resolvers.get(k)?.(sent.then((r) => r[i]?.[0] ?? null)));
            resolvers.clear();
          });
        }
        found = new Promise((resolve) => resolvers.set(key, resolve));
        waiting.set(key, found);
      }
      return found;
    };
    /** @type {Map<string, (v: Promise<import('@acai/contracts').ReusableResult | null>) => void>} */
    const resolvers = new Map();
    for (let d = 0; d < 200; d++) await planAtSubmit(dags + d, throughBus);
    for (const k of Object.keys(submitCounts)) submitCounts[k] = 0;
    submitLookups = 0;
    roundTrips = 0;
    const loadBus = os.loadavg().map((x) => round(x, 2));
    /** @type {number[]} */
    const serviceMs = [];
    for (let d = 0; d < dags; d++) serviceMs.push(await planAtSubmit(d, throughBus));
    const perDagServiceMs = stats(serviceMs, 3);
    const serviceRoundTrips = roundTrips;
    submitLookups = lookupsPostgres;
    say(
      `as the service does it (findReusableMany per level to provenance's index): p50 ${perDagServiceMs.p50} ms, p95 ${perDagServiceMs.p95} ms, mean ${perDagServiceMs.mean} ms; ${serviceRoundTrips} round trips for ${dags} DAGs`,
    );
    // The plan at submit in one round trip (findReusableSteps), as the scheduler sends it since:
    // the whole DAG at once, provenance signing each step that reads another with the content of
    // the newest result found for it (the manifests of the versions jobs committed, loaded from
    // lineage_nodes at boot), then the same forward and backward passes here.
    const stepsSubject = 'acai.cmd.provenance.find_reusable_steps';
    let oneRoundTrips = 0;
    let oneLookups = 0;
    /** @type {Record<string, number>} */
    const oneCounts = { reuse: 0, compute: 0, not_needed: 0, when_ready: 0 };
    /** @param {number} d */
    const planWhole = async (d) => {
      const shape = shapeOf(d);
      const started = performance.now();
      const code = await hasher.hash(command, [dist], pathVariable);
      const planSteps = chainSteps(shape.steps);
      /** @type {import('@acai/contracts').ReuseLookupStep[]} */
      const asked = [];
      for (let j = 0; j < shape.steps; j++) {
        const params = j < shape.reusable ? `p${shape.pipeline}` : `p${shape.pipeline}-dag${d}`;
        const job = jobOf(dist, j, params, null, code);
        asked.push({
          id: `s${j}`,
          excludeJobId: `job-dag-${d}-${j}`,
          command: job.command,
          env: job.env,
          secrets: {},
          outputs: job.outputs,
          code,
          inputs:
            j === 0 ? job.inputs : [{ fileset: `out-${j - 1}`, fromStep: `s${j - 1}`, path: 'in' }],
        });
      }
      oneRoundTrips++;
      const reply = await /** @type {import('@nats-io/nats-core').NatsConnection} */ (nc).request(
        stepsSubject,
        encoder.encode(JSON.stringify({ project: PROJECT, steps: asked, limit: 5 })),
        { timeout: 10_000 },
      );
      const body = JSON.parse(new TextDecoder().decode(reply.data));
      if (!body.ok) throw new Error(`findReusableSteps answered ${JSON.stringify(body.error)}`);
      /** @type {import('@acai/contracts').ReuseStepLookup[]} */
      const answers = body.result.steps;
      /** @type {Map<string, import('@acai/runs').ReuseFinding>} */
      const findings = new Map();
      answers.forEach((answer, i) => {
        if (answer.kind === 'unknown') problems.push(`DAG ${d}, step ${i}: ${answer.reason}`);
        if (answer.kind !== 'looked_up') return;
        oneLookups++;
        const result = answer.results[0];
        findings.set(`s${i}`, findingOf(result));
      });
      const planned = planReuse(planSteps, findings);
      const ms = performance.now() - started;
      for (const [kind, n] of Object.entries(planned.counts)) oneCounts[kind] += n;
      checkPlanned(planned, shape, `DAG ${d} in one round trip`, problems);
      return ms;
    };
    for (let d = 0; d < 200 && problems.length < 5; d++) await planWhole(dags + d);
    oneRoundTrips = 0;
    oneLookups = 0;
    for (const k of Object.keys(oneCounts)) oneCounts[k] = 0;
    const loadOne = os.loadavg().map((x) => round(x, 2));
    /** @type {number[]} */
    const oneMs = [];
    for (let d = 0; d < dags && problems.length < 5; d++) oneMs.push(await planWhole(d));
    const perDagOneMs = stats(oneMs, 3);
    say(
      `in one round trip (findReusableSteps, provenance signing the steps that read others): p50 ${perDagOneMs.p50} ms, p95 ${perDagOneMs.p95} ms, mean ${perDagOneMs.mean} ms; ${oneRoundTrips} round trips for ${dags} DAGs, ${oneLookups} lookups; planned ${JSON.stringify(oneCounts)}`,
    );

    const inProcessLookup = components.lookup;
    const meanSteps = steps / Math.max(dags, 1);
    const withBusMs = perDagMs.mean + meanSteps * Math.max(0, bus.mean - inProcessLookup);

    const result = {
      graph: { jobs, loadSeconds: round(loadSeconds, 1) },
      dags,
      steps,
      meanStepsPerDag: round(meanSteps, 2),
      hits,
      expectedHits,
      totalSec: round(totalSec, 2),
      perDagMs,
      perStepMs: {
        total: round((totalSec * 1000) / Math.max(steps, 1), 4),
        codeHash: round(components.codeHash, 4),
        sign: round(components.sign, 4),
        lookup: round(components.lookup, 4),
      },
      perDagCodeOnceMs,
      atSubmitInMemory: {
        perDagMs: perDagIndexMs,
        index: {
          signatures: index.size.results,
          buildSeconds: round(indexSeconds, 2),
          heapMb: round(indexMb, 0),
        },
        of: 'the same plan at submit, lookups answered by provenance’s ResultsIndex, in this process, built from the same events',
      },
      asTheServiceDoesIt: {
        perDagMs: perDagServiceMs,
        roundTrips: serviceRoundTrips,
        indexReadySeconds: round(indexReadySeconds, 1),
        bytesPerJob: Math.round(bytesPerJob),
        loadAverage: loadBus,
        met: perDagServiceMs.mean < GOAL_MS,
        of: 'the plan at submit with each level of lookups in one findReusableMany over NATS to the provenance service, answered from its in-memory index (loaded from job_signatures at boot); the code hashed once per DAG; without the catalog getVersion/verifyVersion round trips',
      },
      inOneRoundTrip: {
        perDagMs: perDagOneMs,
        roundTrips: oneRoundTrips,
        lookups: oneLookups,
        planned: oneCounts,
        loadAverage: loadOne,
        met: perDagOneMs.mean < GOAL_MS,
        of: 'the plan at submit with the whole DAG in one findReusableSteps over NATS: provenance signs each step that reads another with the newest result’s output content (manifests from lineage_nodes, loaded at boot) and looks it up in its in-memory index; the code hashed once per DAG; without the catalog getVersion (of the DAG’s source input) and verifyVersion round trips',
      },
      atSubmit: {
        perDagMs: perDagSubmitMs,
        lookups: submitLookups,
        planned: submitCounts,
        of: 'code hashed once per DAG (remembered by the hasher), findResult only for steps whose inputs are known, level by level, then planReuse',
      },
      bus: {
        lookups: busMs.length,
        hits: busHits,
        ms: bus,
        perDagMsEstimate: round(withBusMs, 3),
        of: 'in-process per DAG + steps per DAG x (findReusable over NATS - the in-process lookup)',
      },
      goal: {
        ms: GOAL_MS,
        paperMs: PAPER_MS,
        helixMs: HELIX_MS,
        metInProcess: perDagMs.mean < GOAL_MS,
        metWithBus: withBusMs < GOAL_MS,
      },
      loadAverage: { before: loadBefore, after: os.loadavg().map((x) => round(x, 2)) },
    };
    say(
      `per DAG (${result.meanStepsPerDag} steps on average): p50 ${perDagMs.p50} ms, p95 ${perDagMs.p95} ms, ` +
        `mean ${perDagMs.mean} ms (goal < ${GOAL_MS} ms; the paper ~${PAPER_MS} ms, Helix ${HELIX_MS} ms)`,
    );
    say(
      `per step ${result.perStepMs.total} ms: code hash ${result.perStepMs.codeHash} ms, ` +
        `signature ${result.perStepMs.sign} ms, lookup ${result.perStepMs.lookup} ms; ${hits} of ${steps} steps found an earlier result`,
    );
    say(
      `with the code hashed once per DAG: p50 ${perDagCodeOnceMs.p50} ms, p95 ${perDagCodeOnceMs.p95} ms, mean ${perDagCodeOnceMs.mean} ms`,
    );
    say(
      `the plan at submit: p50 ${perDagSubmitMs.p50} ms, p95 ${perDagSubmitMs.p95} ms, mean ${perDagSubmitMs.mean} ms; ` +
        `${submitLookups} lookups for ${steps} steps; planned ${JSON.stringify(submitCounts)}`,
    );
    say(
      `the plan at submit, in-memory index: p50 ${perDagIndexMs.p50} ms, p95 ${perDagIndexMs.p95} ms, mean ${perDagIndexMs.mean} ms`,
    );
    say(
      `findReusable over NATS: p50 ${bus.p50} ms, p95 ${bus.p95} ms, mean ${bus.mean} ms per step: ` +
        `about ${result.bus.perDagMsEstimate} ms per DAG with the bus`,
    );
    for (const p of problems) say(`PROBLEM: ${p}`);
    ok = problems.length === 0;
    const file = ctx.writeResult('planner', {
      benchmark: 'planner',
      date: new Date().toISOString(),
      ok,
      machine: { ...ctx.machine(), natsServer: nc.info?.version ?? 'unknown' },
      method:
        'in-process: per step CodeHasher.hash (examples/tabular/dist, remembered and checked by stat) + signJob + SqlSignaturesRepository.findResult against the stack Postgres; bus: findReusable request/reply to the provenance service',
      notIncluded: [
        'the catalog verifyVersion round trip per reused step',
        'the events a decision appends (job.reused / job.queued)',
        'in the in-process figure: the bus round trip to provenance (see bus)',
      ],
      ...result,
      notes: problems,
    });
    return { ok, file };
  } finally {
    await nc?.close().catch(() => undefined);
    await client?.end().catch(() => undefined);
    say('stopping the stack');
    await stack.stop();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`kept ${home}`);
  }
}

/** What the plan's forward pass is given for a step: the newest earlier result found, or none. */
function findingOf(result) {
  return result === null || result === undefined
    ? { kind: 'none', reason: 'no earlier job of the project had its signature' }
    : {
        kind: 'found',
        jobId: result.jobId,
        problem: null,
        loadSeconds: null,
        computeSeconds: result.durationMs === null ? null : result.durationMs / 1000,
      };
}

/**
 * A chain DAG whose first `shape.reusable` steps ran before: the last of them reused, those before
 * it left out, the first new one computed, the rest when ready. Anything else is a problem.
 */
function checkPlanned(planned, shape, label, problems) {
  const r = shape.reusable;
  const expected = {
    reuse: r > 0 ? 1 : 0,
    compute: 1,
    not_needed: Math.max(0, r - 1),
    when_ready: shape.steps - r - 1,
  };
  if (JSON.stringify(planned.counts) !== JSON.stringify(expected)) {
    problems.push(
      `${label}: planned ${JSON.stringify(planned.counts)}, expected ${JSON.stringify(expected)}`,
    );
  }
}

/**
 * A chain of `n` steps, each reading the one before, as the plan's passes take them.
 * @returns {import('@acai/runs').ReusePlanStep[]}
 */
function chainSteps(n) {
  return Array.from({ length: n }, (_, j) => {
    const needs = j === 0 ? [] : [`s${j - 1}`];
    return {
      id: `s${j}`,
      name: `step-${j}`,
      needs,
      reads: needs,
      policy: 'auto',
      notReusable: null,
    };
  });
}
