// @ts-check
// The `search` benchmark of the catalog issue: 1,000,000 versions with varied metadata and labels,
// and p50/p95 of ten typical searches through the gateway (GET /api/v1/versions). Goal: p95 < 50 ms.
//
// The versions are loaded straight into the catalog's search tables (versions and version_numbers)
// with one INSERT ... SELECT each, the rows a projection replay of 1,000,000 commits would write:
// pushing a million commits through the bus first would take an hour and measure something else
// (see `dispatch` for the write path). A few real commits go through the API first, so the tables,
// indexes and projection are the ones the service made.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { startStack } from '../../libs/devstack/dist/index.js';
import { stats } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

const DEFAULT_N = 1_000_000;
const REPEATS = 40;
const WARMUP = 5;
const GOAL_P95_MS = 50;

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const n = ctx.n ?? DEFAULT_N;
  const { say } = ctx;
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-search-'));
  chmodSync(home, 0o755);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    // A crash fails the benchmark rather than being restarted away.
    supervise: false,
    say: (l) => say(`  ${l}`),
  });
  let ok = false;
  try {
    const key = stack.key();
    /** @param {string} method @param {string} pathname @param {unknown} [body] */
    const api = async (method, pathname, body) => {
      const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: /** @type {any} */ (await response.json()) };
    };

    // A real file set through the API: the projection creates rows like the ones loaded below.
    const blob = await fetch(`${stack.gatewayUrl}/api/v1/blobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: 'weights',
    }).then((r) => r.json());
    await api('POST', '/api/v1/filesets', { name: 'real-model', labels: ['model'] });
    await api('POST', '/api/v1/filesets/real-model/versions', {
      parent: 0,
      put: [{ path: 'w.bin', sha256: blob.sha256 }],
      metadata: { task: 'digits', metrics: { accuracy: 0.97 } },
      labels: ['candidate'],
    });

    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    say(`loading ${n.toLocaleString('en')} versions (10,000 file sets) into the search tables...`);
    const loadStarted = performance.now();
    const perFileset = Math.max(1, Math.ceil(n / 10_000));
    await client.query(`
      INSERT INTO catalog.versions
        (project, fileset, version, metadata, labels, files, bytes, manifest_sha256, created_at, created_by, creator_job, creator_run, is_latest)
      SELECT 'default',
             'fs-' || lpad((i / ${perFileset})::text, 5, '0'),
             (i % ${perFileset}) + 1,
             jsonb_build_object(
               'task', (ARRAY['digits','fashion','cifar','speech','text','tabular','recsys','vision'])[1 + i % 8],
               'dataset', 'ds-' || (abs(hashtext(i::text)) % 20),
               'epochs', 1 + (i % 50),
               'metrics', jsonb_build_object('accuracy', round((0.5 + random() * 0.5)::numeric, 4), 'loss', round((random() * 2)::numeric, 4)),
               'tags', (ARRAY['["mlp"]','["cnn","large"]','["mlp","small"]','["cnn","tuned"]','["transformer"]'])[1 + i % 5]::jsonb
             ),
             CASE WHEN i % 1000 = 0 THEN ARRAY['candidate','prod']
                  WHEN i % 5 = 0 THEN ARRAY['candidate']
                  WHEN i % 7 = 0 THEN ARRAY['raw']
                  WHEN i % 11 = 0 THEN ARRAY['baseline']
                  ELSE ARRAY[]::text[] END,
             1 + i % 100, 1000 + i, md5(i::text) || md5((i + 1)::text),
             now() - ((${n} - i) * interval '30 seconds'),
             CASE WHEN i % 10 = 0 THEN jsonb_build_object('kind','job','jobId','job-' || i,'runId','run-' || (i / 10),'step','train','parameters','{}'::jsonb,'code',null)
                  ELSE '{"kind":"key","keyId":"key-bench"}'::jsonb END,
             CASE WHEN i % 10 = 0 THEN 'job-' || i END,
             CASE WHEN i % 10 = 0 THEN 'run-' || (i / 10) END,
             (i % ${perFileset}) + 1 = ${perFileset}
      FROM generate_series(0, ${n - 1}) AS i`);
    await client.query(`
      INSERT INTO catalog.version_numbers (version_id, project, key, value)
      SELECT v.id, v.project, k.key, (v.metadata #>> k.path)::float8
      FROM catalog.versions v
      CROSS JOIN (VALUES ('metrics.accuracy', ARRAY['metrics','accuracy']), ('metrics.loss', ARRAY['metrics','loss']), ('epochs', ARRAY['epochs'])) AS k(key, path)
      WHERE v.fileset LIKE 'fs-%'`);
    await client.query('ANALYZE catalog.versions');
    await client.query('ANALYZE catalog.version_numbers');
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const total = Number(
      (await client.query('SELECT count(*) AS c FROM catalog.versions')).rows[0].c,
    );
    const numbers = Number(
      (await client.query('SELECT count(*) AS c FROM catalog.version_numbers')).rows[0].c,
    );
    await client.end();
    say(
      `loaded in ${loadSeconds.toFixed(1)} s: ${total.toLocaleString('en')} versions, ${numbers.toLocaleString('en')} numeric metadata values`,
    );

    const weekAgo = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString();
    const queries = [
      ['prod versions', 'label=prod'],
      ['task and label', 'meta.task=digits&label=candidate'],
      ['accuracy >= 0.99', 'meta.metrics.accuracy[gte]=0.99'],
      [
        'task and accuracy range',
        'meta.task=digits&meta.metrics.accuracy[gte]=0.95&meta.metrics.accuracy[lt]=0.97',
      ],
      ['one file set, all versions', 'fileset=fs-00042'],
      ['latest of each, one dataset', 'latest=true&meta.dataset=ds-3'],
      ['tag contains, any label', 'meta.tags[contains]=tuned&anyLabel=prod&anyLabel=baseline'],
      ['made by a job', `creatorJob=job-${Math.floor(n / 2 / 10) * 10}`],
      ['last week, candidates', `createdAfter=${weekAgo}&label=candidate`],
      ['newest first, no filter', ''],
    ];
    /** @type {{ name: string, query: string, hits: number, p50: number, p95: number, max: number }[]} */
    const results = [];
    for (const [name, query] of queries) {
      const url = `/api/v1/versions?limit=50${query === '' ? '' : `&${query}`}`;
      const times = [];
      let hits = 0;
      for (let i = 0; i < WARMUP + REPEATS; i++) {
        const started = performance.now();
        const r = await api('GET', url);
        const ms = performance.now() - started;
        if (r.status !== 200) throw new Error(`${url}: ${r.status} ${JSON.stringify(r.body)}`);
        hits = r.body.items.length;
        if (i >= WARMUP) times.push(ms);
      }
      const s = stats(times);
      results.push({ name, query, hits, p50: s.p50, p95: s.p95, max: s.max });
    }
    const worstP95 = Math.max(...results.map((r) => r.p95));
    say('');
    say(
      `  ${'query'.padEnd(30)} ${'hits'.padStart(5)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}`,
    );
    for (const r of results) {
      say(
        `  ${r.name.padEnd(30)} ${String(r.hits).padStart(5)} ${r.p50.toFixed(2).padStart(8)} ${r.p95.toFixed(2).padStart(8)}`,
      );
    }
    say('');
    say(
      `  worst p95 ${worstP95.toFixed(2)} ms against the goal of ${GOAL_P95_MS} ms: ${worstP95 < GOAL_P95_MS ? 'met' : 'NOT met'}`,
    );
    say(
      `  (each: ${REPEATS} requests after ${WARMUP} warm-up ones, one at a time, through gateway -> NATS -> catalog -> Postgres)`,
    );
    ok = results.every((r) => r.hits > 0);
    const file = ctx.writeResult('search', {
      benchmark: 'search',
      date: new Date().toISOString(),
      machine: ctx.machine(),
      versions: total,
      numericValues: numbers,
      loadSeconds,
      goalP95Ms: GOAL_P95_MS,
      worstP95Ms: worstP95,
      goalMet: worstP95 < GOAL_P95_MS,
      queries: results,
      notes: [
        'versions loaded with INSERT ... SELECT into the catalog search tables (the rows the search projection writes); one real commit went through the API first',
        `each query: ${REPEATS} sequential requests after ${WARMUP} warm-up, limit=50, measured at the client`,
      ],
    });
    if (!ok) say('a query found nothing: the data or the query is wrong');
    return { ok, file };
  } finally {
    await stack.stop();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`kept ${home}`);
  }
}
