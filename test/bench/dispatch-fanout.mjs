// @ts-check
// What one no-op job costs on the bus and in Postgres, counted rather than timed: every NATS
// message of the stack (a `>` subscriber), by kind, event type and consumer, and every Postgres
// statement, by service role (pg_stat_statements, loaded by restarting the stack's own Postgres
// once). Not part of `npm run bench`: run it by hand after a build,
//   node test/bench/dispatch-fanout.mjs [--n=100] [--concurrency=1] [--json=out.json]
// and divide by n. The figures in docs/benchmarks.md's dispatch sections come from it.
import { appendFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { startStack } from '../../libs/devstack/dist/index.js';
import { request } from './lib.mjs';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => /^--([^=]+)=(.*)$/.exec(a))
    .filter((m) => m !== null)
    .map((m) => [m[1], m[2]]),
);
const n = Number(args['n'] ?? 100);
const concurrency = Number(args['concurrency'] ?? 1);
const WARMUP = 20;
const RUN_SPEC = { name: 'noop', steps: [{ name: 'noop', command: ['true'] }] };
const END_TYPES = new Set(['run.succeeded', 'run.failed', 'run.cancelled']);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const say = (/** @type {string} */ line) => console.log(`[fanout] ${line}`);

const home = mkdtempSync(path.join(os.tmpdir(), 'acai-fanout-'));
chmodSync(home, 0o755);
const stackOptions = { root, home, gatewayPort: 0, supervise: false, say: () => undefined };
// Once to make the data folder, stopped, pg_stat_statements preloaded, and again.
let stack = await startStack(stackOptions);
await stack.stop();
appendFileSync(
  path.join(home, 'postgres', 'postgresql.conf'),
  "\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 10000\n",
);
stack = await startStack(stackOptions);
const db = new pg.Client({ connectionString: stack.databaseUrl });
await db.connect();
await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
const nc = await connect({ ...stack.natsOperator, name: 'fanout' });
const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(concurrency, 1) });
const client = { gatewayUrl: stack.gatewayUrl, key: stack.key(), agent };

/** @type {Map<string, number>} */
let counts = new Map();
let counting = false;
const add = (/** @type {string} */ key) => counts.set(key, (counts.get(key) ?? 0) + 1);
/** @type {Set<string>} */
const ended = new Set();
let wake = () => undefined;
nc.subscribe('>', {
  callback: (error, msg) => {
    if (error) return;
    const s = msg.subject;
    const type = msg.headers?.get('Acai-Type') ?? '';
    if (s.startsWith('acai.evt.') && END_TYPES.has(type)) {
      ended.add(s.slice(s.lastIndexOf('.') + 1));
      wake();
    }
    if (!counting) return;
    if (s.startsWith('acai.evt.')) {
      // An event is seen once as published and once per delivery to a consumer (its reply
      // subject names the consumer; an ordered consumer's is a generated name).
      const reply = msg.reply ?? '';
      if (reply.startsWith('$JS.ACK.')) {
        const consumer = reply.split('.')[3] ?? '?';
        add(
          `event delivered\t${type}\t${consumer.startsWith('OC_') || /^[A-Za-z0-9]{22}$/.test(consumer) ? 'ordered' : consumer}`,
        );
      } else add(`event published\t${type}\t`);
    } else if (s.startsWith('$JS.ACK.')) add(`ack\t${s.split('.')[3] ?? '?'}\t`);
    else if (s.startsWith('$JS.API.'))
      add(`JetStream API\t${s.split('.').slice(2, 4).join('.')}\t`);
    else if (s.startsWith('$JS.FC') || s.startsWith('$JS.EVENT'))
      add(`JetStream internal\t${s.split('.').slice(0, 3).join('.')}\t`);
    else if (s.startsWith('_INBOX.') || s.startsWith('_I.') || /^_[A-Z_]*INBOX/.test(s))
      add(`reply (inbox)\t\t`);
    else if (s.startsWith('acai.cmd.')) add(`command\t${s.slice('acai.cmd.'.length)}\t`);
    else if (s.startsWith('acai.work.')) add(`work message\t\t`);
    else add(`other\t${s.split('.').slice(0, 3).join('.')}\t`);
  },
});
await nc.flush();

/** @param {number} count */
async function submit(count) {
  const ids = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await request(client, 'POST', '/api/v1/runs', RUN_SPEC);
      if (response.status !== 202) throw new Error(`HTTP ${response.status}: ${response.text}`);
      const id = /** @type {{ id: string }} */ (JSON.parse(response.text)).id;
      ids.push(id);
      if (concurrency === 1) await until(() => ended.has(id));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await until(() => ids.every((id) => ended.has(id)));
  // What the end's consumers do after it (settle acks, projections) is counted too.
  await new Promise((r) => setTimeout(r, 2_000));
}
/** @param {() => boolean} done */
async function until(done) {
  while (!done()) await new Promise((r) => ((wake = () => r(undefined)), setTimeout(r, 50)));
}

try {
  say(`warm-up: ${WARMUP} runs`);
  await submit(WARMUP);
  await db.query('SELECT pg_stat_statements_reset()');
  counts = new Map();
  counting = true;
  say(`counting: ${n} runs, ${concurrency} at a time`);
  await submit(n);
  counting = false;
  const statements = await db.query(
    `SELECT r.rolname AS role, s.calls::int AS calls, s.query
       FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
      WHERE r.rolname LIKE 'acai_%' ORDER BY s.calls DESC`,
  );
  const perJob = (/** @type {number} */ c) => Math.round((c / n) * 100) / 100;
  const rows = [...counts].sort((a, b) => a[0].localeCompare(b[0]));
  console.log('\nNATS messages per job (kind, detail, consumer):');
  let total = 0;
  for (const [key, c] of rows) {
    total += c;
    console.log(`  ${perJob(c).toString().padStart(6)}  ${key.replace(/\t/g, '  ')}`);
  }
  console.log(`  ${perJob(total).toString().padStart(6)}  all`);
  console.log('\nPostgres statements per job, by service role:');
  /** @type {Record<string, number>} */
  const byRole = {};
  for (const s of statements.rows) byRole[s.role] = (byRole[s.role] ?? 0) + s.calls;
  for (const [role, c] of Object.entries(byRole)) console.log(`  ${perJob(c)}  ${role}`);
  console.log('\nstatements called at least once per 2 jobs:');
  for (const s of statements.rows) {
    if (s.calls * 2 < n) continue;
    console.log(
      `  ${perJob(s.calls).toString().padStart(6)}  ${s.role}  ${s.query.replace(/\s+/g, ' ').slice(0, 150)}`,
    );
  }
  if (args['json'] !== undefined) {
    writeFileSync(
      args['json'],
      JSON.stringify(
        { n, concurrency, nats: Object.fromEntries(rows), statements: statements.rows },
        null,
        2,
      ),
    );
  }
} finally {
  nc.close().catch(() => undefined);
  await db.end().catch(() => undefined);
  await stack.stop();
  rmSync(home, { recursive: true, force: true });
}
