// @ts-check
// The `replay` benchmark of the reliability issue: a log of N job events (default 100,000: 20,000
// jobs, each queued, provisioned, dispatched, started and succeeded) replayed into job history by
// the real provenance service (POST /api/v1/projections/job-history/replay, progress from
// GET /api/v1/projections/job-history), beside the live view and swapped in. Goal: at least 20,000
// events/s into Postgres. Side by side with the floor: the same events read from JetStream by an
// ordered consumer with nothing applied.
//
// The events are appended straight to the log with the operator's user (the shapes the services
// write); pushing 20,000 jobs through the executors would take ten minutes and measure dispatch.
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startStack } from '../../libs/devstack/dist/index.js';
import { countLogLines, round } from './lib.mjs';

/** @typedef {import('./run.mjs').BenchContext} BenchContext */
/** @typedef {import('./run.mjs').BenchOutcome} BenchOutcome */

const DEFAULT_N = 100_000;
const GOAL_EVENTS_PER_SEC = 20_000;
const PUBLISH_IN_FLIGHT = 512;

/**
 * The five events of one job, as the scheduler, provisioner and executor append them.
 * @param {string} jobId @param {string} runId @param {number} i
 */
function jobEvents(jobId, runId, i) {
  const resources = { cpu: 1, memoryMb: 512 };
  return [
    {
      type: 'job.queued',
      data: {
        runId,
        name: `step-${i % 10}`,
        command: ['python', 'train.py', '--epochs', String(1 + (i % 5))],
        env: { SEED: String(i) },
        resources,
        inputs: [],
        outputs: [],
        timeoutSeconds: null,
        network: 'default',
        secrets: {},
        provision: null,
      },
    },
    {
      type: 'job.provisioned',
      data: { provider: 'local', pool: 'local', resources, reason: 'local slot' },
    },
    { type: 'job.dispatched', data: { pool: 'local', attempt: 1 } },
    { type: 'job.started', data: { executor: 'bench-node', attempt: 1, pid: 1000 + (i % 30000) } },
    {
      type: 'job.succeeded',
      data: { attempt: 1, exitCode: 0, durationMs: 1000 + (i % 997), outputs: [] },
    },
  ];
}

/**
 * @param {BenchContext} ctx
 * @returns {Promise<BenchOutcome>}
 */
export async function run(ctx) {
  const n = ctx.n ?? DEFAULT_N;
  const jobs = Math.ceil(n / 5);
  const { say } = ctx;
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-bench-replay-'));
  chmodSync(home, 0o755);
  const stack = await startStack({
    root: ctx.root,
    home,
    gatewayPort: 0,
    supervise: false,
    say: (l) => say(`  ${l}`),
  });
  let ok = false;
  /** @type {Awaited<ReturnType<typeof connect>> | undefined} */
  let nc;
  try {
    const key = stack.key();
    /** @param {string} method @param {string} pathname */
    const api = async (method, pathname) => {
      const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
        method,
        headers: { authorization: `Bearer ${key}` },
      });
      return { status: response.status, body: /** @type {any} */ (await response.json()) };
    };
    nc = await connect({ ...stack.natsOperator, name: 'bench-replay' });
    const js = jetstream(nc);

    // The log: `jobs` jobs of 5 events each, published with their type header as the event store
    // does, many in flight.
    say(
      `appending ${(jobs * 5).toLocaleString('en')} job events (${jobs.toLocaleString('en')} jobs)...`,
    );
    const appendStarted = performance.now();
    const runId = `run-${'0'.repeat(23)}`;
    /** @type {Promise<unknown>[]} */
    let inFlight = [];
    let appended = 0;
    for (let i = 0; i < jobs; i++) {
      const jobId = `job-${String(i).padStart(23, '0')}`;
      const subject = `acai.evt.default.job.${jobId}`;
      const occurredAt = new Date().toISOString();
      // One job's events in order (each waits for the one before), jobs in parallel.
      inFlight.push(
        (async () => {
          for (const event of jobEvents(jobId, runId, i)) {
            const h = natsHeaders();
            h.set('Acai-Type', event.type);
            h.set('Acai-Version', '1');
            const id = randomUUID();
            const envelope = {
              id,
              type: event.type,
              version: 1,
              project: 'default',
              aggregate: 'job',
              aggregateId: jobId,
              occurredAt,
              causationId: null,
              correlationId: runId,
              data: event.data,
            };
            await js.publish(subject, JSON.stringify(envelope), { msgID: id, headers: h });
            appended += 1;
          }
        })(),
      );
      if (inFlight.length >= PUBLISH_IN_FLIGHT / 5) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const appendSeconds = (performance.now() - appendStarted) / 1000;
    say(`  appended ${appended.toLocaleString('en')} in ${appendSeconds.toFixed(1)} s`);

    // The live views catch up first (provenance applies every event as it comes).
    const liveStarted = performance.now();
    const stream = await js.streams.get('ACAI_EVENTS');
    const lastSeq = (await stream.info()).state.last_seq;
    for (;;) {
      const view = await api('GET', '/api/v1/projections/job-history');
      if (view.status !== 200)
        throw new Error(`GET projection: ${view.status} ${JSON.stringify(view.body)}`);
      if (view.body.lastSeq >= lastSeq) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const liveSeconds = (performance.now() - liveStarted) / 1000;
    say(`  live views caught up ${liveSeconds.toFixed(1)} s after the last append`);
    // And every other consumer of the log (the scheduler's and the provisioner's handle job events
    // too): the replay is measured on an otherwise idle stack.
    const jsm = await jetstreamManager(nc);
    const idleStarted = performance.now();
    for (;;) {
      let busy = 0;
      for await (const c of jsm.consumers.list('ACAI_EVENTS')) {
        if (c.config.durable_name !== undefined) busy += c.num_pending + c.num_ack_pending;
      }
      if (busy === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const othersSeconds = (performance.now() - idleStarted) / 1000;
    say(`  the other consumers caught up ${othersSeconds.toFixed(1)} s later`);

    // Floor: the same events read by an ordered consumer, nothing applied.
    const floorStarted = performance.now();
    const consumer = await js.consumers.get('ACAI_EVENTS', {
      filter_subjects: 'acai.evt.>',
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 2_000 });
    let read = 0;
    for await (const msg of messages) {
      JSON.parse(msg.string());
      read += 1;
      if (msg.seq >= lastSeq) break;
    }
    messages.stop();
    const floorSeconds = (performance.now() - floorStarted) / 1000;
    const floorRate = read / floorSeconds;

    // The replay, through the API, watched until it is swapped in.
    const replayStarted = performance.now();
    const started = await api('POST', '/api/v1/projections/job-history/replay');
    if (started.status !== 202)
      throw new Error(`replay: ${started.status} ${JSON.stringify(started.body)}`);
    /** @type {any} */
    let status;
    /** @type {{ atSec: number, done: number }[]} */
    const progress = [];
    for (;;) {
      const view = await api('GET', '/api/v1/projections/job-history');
      status = view.body.replay;
      progress.push({
        atSec: round((performance.now() - replayStarted) / 1000, 2),
        done: status?.done ?? 0,
      });
      if (status?.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const replaySeconds = (performance.now() - replayStarted) / 1000;
    const events = status?.done ?? 0;
    const rate = events / replaySeconds;
    const problems = [];
    if (status?.status !== 'succeeded')
      problems.push(`replay ended ${status?.status}: ${status?.error}`);
    if (events < lastSeq) problems.push(`replay reached ${events} of ${lastSeq}`);
    const documents = status?.documents ?? 0;
    if (documents < jobs) problems.push(`job history has ${documents} documents, expected ${jobs}`);
    // Error lines per service: any fails the benchmark (a Record compared with 0 never did).
    const logErrors = countLogLines(stack.logDir, /"level":("error"|"fatal"|50|60)\b/);
    const errorLines = Object.values(logErrors).reduce((a, b) => a + b, 0);
    if (errorLines > 0)
      problems.push(`${errorLines} error lines in the service logs: ${JSON.stringify(logErrors)}`);
    ok = problems.length === 0;

    say('');
    say(
      `  ${'what'.padEnd(44)} ${'events'.padStart(9)} ${'seconds'.padStart(8)} ${'events/s'.padStart(9)}`,
    );
    say(
      `  ${'replay of job-history (acai, into Postgres)'.padEnd(44)} ${String(events).padStart(9)} ${replaySeconds.toFixed(2).padStart(8)} ${Math.round(rate).toString().padStart(9)}`,
    );
    say(
      `  ${'floor: JetStream read, nothing applied'.padEnd(44)} ${String(read).padStart(9)} ${floorSeconds.toFixed(2).padStart(8)} ${Math.round(floorRate).toString().padStart(9)}`,
    );
    say(
      `  ${'goal (the reliability issue)'.padEnd(44)} ${''.padStart(9)} ${''.padStart(8)} ${String(GOAL_EVENTS_PER_SEC).padStart(9)}`,
    );
    say('');
    say(
      `  goal of ${GOAL_EVENTS_PER_SEC} events/s: ${rate >= GOAL_EVENTS_PER_SEC ? 'met' : 'NOT met'}`,
    );
    for (const p of problems) say(`  problem: ${p}`);

    const file = ctx.writeResult('replay', {
      benchmark: 'replay',
      date: new Date().toISOString(),
      machine: ctx.machine(),
      jobs,
      eventsInLog: lastSeq,
      appendSeconds: round(appendSeconds, 2),
      liveCatchUpSeconds: round(liveSeconds, 2),
      otherConsumersCatchUpSeconds: round(othersSeconds, 2),
      acai: {
        replayedEvents: events,
        replaySeconds: round(replaySeconds, 2),
        eventsPerSec: Math.round(rate),
        documents,
        progress,
      },
      floor: {
        readEvents: read,
        seconds: round(floorSeconds, 2),
        eventsPerSec: Math.round(floorRate),
      },
      goalEventsPerSec: GOAL_EVENTS_PER_SEC,
      goalMet: rate >= GOAL_EVENTS_PER_SEC,
      notes: [
        'events appended straight to ACAI_EVENTS with the operator user, in the shapes the services write',
        'replay: POST /api/v1/projections/job-history/replay until GET /api/v1/projections/job-history says succeeded (polled every 250 ms), so the figure includes the swap',
        'floor: an ordered consumer reading the same stream and parsing each event, nothing written',
        ...problems,
      ],
    });
    return { ok, file };
  } finally {
    await nc?.close();
    await stack.stop();
    if (ok && !ctx.keep) rmSync(home, { recursive: true, force: true });
    else say(`kept ${home}`);
  }
}
