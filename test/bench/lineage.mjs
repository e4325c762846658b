// @ts-check
// The `lineage` benchmark of the provenance issue: a graph of N jobs (default 100,000) and the
// versions they read and made, and p50/p95/p99 of lineage walks up and down at depths 1, 5 and 50
// and of impact, through the gateway (GET /api/v1/lineage, GET /api/v1/lineage/impact).
// Goal: p95 < 50 ms.
//
// The graph is made by the real projection: synthetic events (the shapes the scheduler, executor
// and catalog append: job.queued with its inputs, fileset.version_committed by the job,
// job.succeeded with its outputs) applied by provenance's own LineageProjection (built, in
// apps/provenance/dist) into the stack's provenance schema, a batch of 4,000 events per
// transaction, as a replay applies them. Pushing 100,000 jobs through the executors would take hours
// and measure dispatch. A real upload goes through the API first, so the schema is the service's.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startStack } from '../../libs/devstack/dist/index.js';
import { LineageProjection } from '../../apps/provenance/dist/lineage/lineage.projection.js';
import { SqlLineageRepository } from '../../apps/provenance/dist/lineage/lineage.repository.js';
import { round, stats } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */
/** @typedef {import('@acai/contracts').StoredEvent} StoredEvent */

const DEFAULT_JOBS = 100_000;
const STEPS = 4;
/** Raw data sets, each uploaded once; pipeline p reads raw-(p % RAW). */
const RAW = 2_000;
/** Shared test sets: every eval step reads one, so each is read by many pipelines (wide fan-out). */
const TEST_SETS = 50;
const BATCH = 4_000;
const REPEATS = 60;
const WARMUP = 5;
const GOAL_P95_MS = 50;
const PROJECT = 'default';

/**
 * A job id of the shape the scheduler gives (`job-` and 23 of [0-9a-z]), from its pipeline and step.
 * @param {number} p @param {string} step
 */
const jobIdOf = (p, step) => `job-${String(p).padStart(20, '0')}${step.slice(0, 3)}`;

/**
 * The events of the graph, in log order: RAW + TEST_SETS uploads, then `pipelines` pipelines of four
 * steps. etl reads raw-(p % RAW) and makes features-p; train reads features-p and, for one pipeline
 * in four, the model of pipeline p - RAW (fine-tuning: chains across pipelines, so lineage is deep);
 * eval reads model-p and test-(p % TEST_SETS) (fan-in) and makes report-p; package reads model-p and
 * report-p and makes bundle-p.
 * @param {number} pipelines
 * @returns {Generator<StoredEvent>}
 */
export function* graphEvents(pipelines) {
  let seq = 0;
  const time = new Date(Date.UTC(2026, 0, 1)).toISOString();
  /** @param {string} type @param {string} aggregate @param {string} id @param {unknown} data */
  const event = (type, aggregate, id, data) =>
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
  /** @param {string} fileset @param {number} bytes @param {unknown} createdBy */
  const commit = (fileset, bytes, createdBy) =>
    event('fileset.version_committed', 'fileset', fileset, {
      version: 1,
      parent: 0,
      manifest: { sha256: `sha-${fileset}`, files: 3, bytes },
      changes: { added: 3, replaced: 0, deleted: 0 },
      metadata: {},
      labels: [],
      createdBy,
    });
  for (let i = 0; i < RAW; i++) yield commit(`raw-${i}`, 1e8, { kind: 'key', keyId: 'key-bench' });
  for (let i = 0; i < TEST_SETS; i++) {
    yield commit(`test-${i}`, 1e7, { kind: 'key', keyId: 'key-bench' });
  }
  for (let p = 0; p < pipelines; p++) {
    const runId = `run-${p}`;
    /** @type {[string, string[], string][]} */
    const steps = [
      ['etl', [`raw-${p % RAW}`], `features-${p}`],
      [
        'train',
        p >= RAW && p % 4 === 0 ? [`features-${p}`, `model-${p - RAW}`] : [`features-${p}`],
        `model-${p}`,
      ],
      ['eval', [`model-${p}`, `test-${p % TEST_SETS}`], `report-${p}`],
      ['package', [`model-${p}`, `report-${p}`], `bundle-${p}`],
    ];
    for (const [step, inputs, output] of steps) {
      const jobId = jobIdOf(p, step);
      const parameters = { SEED: String(p), LR: '0.01' };
      yield event('job.queued', 'job', jobId, {
        runId,
        name: step,
        command: ['python', `${step}.py`],
        env: parameters,
        resources: { cpu: 1, memoryMb: 512 },
        inputs: inputs.map((fileset) => ({
          fileset,
          version: 1,
          manifestSha256: `sha-${fileset}`,
          path: `inputs/${fileset}`,
        })),
        outputs: [{ fileset: output, path: `outputs/${output}`, labels: [], save: true }],
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
        retries: null,
      });
      yield commit(output, 1e6 + (p % 1000), {
        kind: 'job',
        jobId,
        runId,
        step,
        parameters,
        code: `git:${(p % 97).toString(16)}`,
      });
      yield event('job.succeeded', 'job', jobId, {
        exitCode: 0,
        durationMs: 1_000 + (p % 997),
        outputs: [{ fileset: output, version: 1 }],
        attempt: 1,
      });
    }
  }
}

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const jobs = ctx.n ?? DEFAULT_JOBS;
  const pipelines = Math.ceil(jobs / STEPS);
  const { say } = ctx;
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-lineage-'));
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
  try {
    const key = stack.key();
    /** @param {string} pathname */
    const get = async (pathname) => {
      const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return { status: response.status, body: /** @type {any} */ (await response.json()) };
    };

    const db = new pg.Client({ connectionString: stack.databaseUrl });
    client = db;
    // The stack's Postgres stops with the stack: an error on this idle client then is expected.
    db.on('error', () => undefined);
    await db.connect();
    const projection = new LineageProjection('provenance');
    // What the runner hands the projection: a transaction's manager; it only sends queries.
    const manager = /** @type {import('typeorm').EntityManager} */ (
      /** @type {unknown} */ ({
        /** @param {string} sql @param {unknown[]} [params] */
        query: async (sql, params) => (await db.query(sql, params)).rows,
      })
    );
    say(
      `applying the events of ${(pipelines * STEPS).toLocaleString('en')} jobs (${pipelines.toLocaleString('en')} pipelines of ${STEPS} steps) through the lineage projection...`,
    );
    const loadStarted = performance.now();
    let events = 0;
    /** @type {StoredEvent[]} */
    let batch = [];
    const flush = async () => {
      await db.query('BEGIN');
      await projection.apply(manager, batch);
      await db.query('COMMIT');
      events += batch.length;
      batch = [];
    };
    for (const event of graphEvents(pipelines)) {
      batch.push(event);
      if (batch.length === BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    // What autovacuum does to a live table soon after a load: statistics, and the visibility map
    // that lets a walk read the edges' index alone (index-only scans).
    await db.query(`VACUUM ANALYZE ${projection.nodes()}`);
    await db.query(`VACUUM ANALYZE ${projection.edges()}`);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const counts = (
      await db.query(
        `SELECT (SELECT count(*) FROM ${projection.nodes()} WHERE kind = 'job') AS jobs,
                (SELECT count(*) FROM ${projection.nodes()} WHERE kind = 'version') AS versions,
                (SELECT count(*) FROM ${projection.edges()}) AS edges`,
      )
    ).rows[0];
    const graph = {
      jobs: Number(counts.jobs),
      versions: Number(counts.versions),
      edges: Number(counts.edges),
    };
    say(
      `applied ${events.toLocaleString('en')} events in ${loadSeconds.toFixed(1)} s (${Math.round(events / loadSeconds).toLocaleString('en')}/s): ${graph.jobs.toLocaleString('en')} jobs, ${graph.versions.toLocaleString('en')} versions, ${graph.edges.toLocaleString('en')} edges`,
    );

    // Each query cycles through many starts, so no answer is the same twice in a row.
    const late = Math.max(0, pipelines - RAW);
    /** @type {[string, (i: number) => string][]} */
    const queries = [
      ['down d1 from raw data', (i) => `/api/v1/lineage?fileset=raw-${i % RAW}&version=1&depth=1`],
      ['down d5 from raw data', (i) => `/api/v1/lineage?fileset=raw-${i % RAW}&version=1&depth=5`],
      [
        'down d50 from raw data',
        (i) => `/api/v1/lineage?fileset=raw-${(i * 4) % RAW}&version=1&depth=50`,
      ],
      [
        'down d1 from a test set',
        (i) => `/api/v1/lineage?fileset=test-${i % TEST_SETS}&version=1&depth=1`,
      ],
      [
        'down d50 from a test set',
        (i) => `/api/v1/lineage?fileset=test-${i % TEST_SETS}&version=1&depth=50`,
      ],
      [
        'up d1 from a bundle',
        (i) => `/api/v1/lineage?fileset=bundle-${late + (i % RAW)}&version=1&direction=up&depth=1`,
      ],
      [
        'up d5 from a bundle',
        (i) => `/api/v1/lineage?fileset=bundle-${late + (i % RAW)}&version=1&direction=up&depth=5`,
      ],
      [
        'up d50 from a bundle',
        (i) =>
          `/api/v1/lineage?fileset=bundle-${late + ((i * 4) % RAW)}&version=1&direction=up&depth=50`,
      ],
      [
        'both d50 from a job',
        (i) =>
          `/api/v1/lineage?job=${jobIdOf((i * 4 * 97) % pipelines, 'train')}&direction=both&depth=50`,
      ],
      [
        'impact of raw data',
        (i) => `/api/v1/lineage/impact?fileset=raw-${(i * 4) % RAW}&version=1`,
      ],
      [
        'impact of a test set',
        (i) => `/api/v1/lineage/impact?fileset=test-${i % TEST_SETS}&version=1`,
      ],
    ];
    // The same questions asked of provenance's repository straight (its SQL, no HTTP, no bus): the
    // share of the time that is Postgres's.
    const repo = new SqlLineageRepository(
      /** @type {import('typeorm').DataSource} */ (/** @type {unknown} */ (manager)),
      projection,
    );
    /** @param {string} url */
    const direct = (url) => {
      const q = new URL(url, 'http://x').searchParams;
      const job = q.get('job');
      const start = job !== null ? `job:${job}` : `version:${q.get('fileset')}@${q.get('version')}`;
      if (url.includes('/impact')) return repo.impact(PROJECT, start, 50, 100, null);
      const direction = /** @type {'up' | 'down' | 'both'} */ (q.get('direction') ?? 'down');
      return repo.walk(PROJECT, start, direction, Number(q.get('depth') ?? 10), 100, null);
    };
    const loadBefore = os.loadavg();
    /** @type {{ name: string, example: string, reached: number, p50: number, p95: number, p99: number, max: number, sql: { p50: number, p95: number, p99: number } }[]} */
    const results = [];
    for (const [name, url] of queries) {
      const sqlTimes = [];
      for (let i = 0; i < WARMUP + REPEATS; i++) {
        const started = performance.now();
        await direct(url(i));
        if (i >= WARMUP) sqlTimes.push(performance.now() - started);
      }
      const sql = stats(sqlTimes);
      const times = [];
      const reached = [];
      for (let i = 0; i < WARMUP + REPEATS; i++) {
        const started = performance.now();
        const r = await get(url(i));
        const ms = performance.now() - started;
        if (r.status !== 200) throw new Error(`${url(i)}: ${r.status} ${JSON.stringify(r.body)}`);
        if (i >= WARMUP) {
          times.push(ms);
          reached.push('jobs' in r.body ? r.body.jobs + r.body.versions : r.body.items.length);
        }
      }
      const s = stats(times);
      results.push({
        name,
        example: url(WARMUP),
        reached: Math.round(reached.reduce((a, b) => a + b, 0) / reached.length),
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        max: s.max,
        sql: { p50: sql.p50, p95: sql.p95, p99: sql.p99 },
      });
    }
    const loadAfter = os.loadavg();
    const worstP95 = Math.max(...results.map((r) => r.p95));
    say('');
    say(
      `  ${'query (first page, limit 100)'.padEnd(30)} ${'reached'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'goal p95'.padStart(9)} ${'SQL p50'.padStart(8)} ${'SQL p95'.padStart(8)}`,
    );
    for (const r of results) {
      say(
        `  ${r.name.padEnd(30)} ${String(r.reached).padStart(8)} ${r.p50.toFixed(2).padStart(8)} ${r.p95.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${`< ${GOAL_P95_MS}`.padStart(9)} ${r.sql.p50.toFixed(2).padStart(8)} ${r.sql.p95.toFixed(2).padStart(8)}`,
      );
    }
    say('');
    say(
      `  worst p95 ${worstP95.toFixed(2)} ms against the goal of ${GOAL_P95_MS} ms: ${worstP95 < GOAL_P95_MS ? 'met' : 'NOT met'}`,
    );
    say(
      `  load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after (${os.cpus().length} CPUs)`,
    );
    say(
      `  (SQL: the repository's query straight from the bench, no HTTP or bus; reached: nodes on the first page for a walk, all downstream for impact; each query ${REPEATS} requests after ${WARMUP} warm-up, one at a time, through gateway -> NATS -> provenance -> Postgres)`,
    );
    ok = results.every((r) => r.reached > 0);
    const file = ctx.writeResult('lineage', {
      benchmark: 'lineage',
      date: new Date().toISOString(),
      machine: ctx.machine(),
      graph,
      events,
      loadSeconds: round(loadSeconds, 1),
      goalP95Ms: GOAL_P95_MS,
      worstP95Ms: worstP95,
      goalMet: worstP95 < GOAL_P95_MS,
      loadAverage: { before: loadBefore, after: loadAfter },
      queries: results,
      notes: [
        'VACUUM ANALYZE after the load (what autovacuum does to a live table soon after)',
        `graph made by applying synthetic events through provenance's LineageProjection (${BATCH} events a transaction) into the stack's provenance schema`,
        `each query: ${REPEATS} sequential requests after ${WARMUP} warm-up, limit=100 (first page), measured at the client through the gateway`,
      ],
    });
    if (!ok) say('a query reached nothing: the graph or the query is wrong');
    return { ok, file };
  } finally {
    await client?.end().catch(() => undefined);
    await stack.stop();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`kept ${home}`);
  }
}
