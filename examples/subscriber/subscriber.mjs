#!/usr/bin/env node
// Retrains when a file set gets a new version, and prints failures: an automation that reads the
// project's events on NATS with subscriber credentials (POST /api/v1/projects/{name}/subscriber-credentials)
// and submits runs with an API key. See README.md next to this file.
//
//   node examples/subscriber/subscriber.mjs --credentials sub.json --fileset digits --run retrain.json
//
// Environment: NATS_URL (nats://127.0.0.1:4222), ACAI_URL (http://127.0.0.1:8080), ACAI_KEY (a key
// of the project with scope `write`, to submit runs).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const { values } = parseArgs({
  options: {
    credentials: { type: 'string' },
    fileset: { type: 'string' },
    run: { type: 'string' },
  },
});
if (!values.credentials || !values.fileset || !values.run) {
  console.error(
    'usage: subscriber.mjs --credentials <answer of subscriber-credentials>.json --fileset <name> --run <run spec>.json',
  );
  process.exit(2);
}
const api = process.env.ACAI_URL ?? 'http://127.0.0.1:8080';
const key = process.env.ACAI_KEY;
if (!key) {
  console.error('Set ACAI_KEY to a key of the project with scope write (it submits the runs).');
  process.exit(2);
}
const credentials = JSON.parse(await readFile(values.credentials, 'utf8'));
const spec = JSON.parse(await readFile(values.run, 'utf8'));

const nc = await connect({
  servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  user: credentials.user,
  pass: credentials.password,
  // Replies come on the subscriber's own inbox: it may not hear `_INBOX.>`.
  inboxPrefix: credentials.inboxPrefix,
});
const stop = () => void nc.drain();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

/** Submits the run spec, with the new version in its `env` as FILESET_VERSION. */
async function retrain(version) {
  const body = {
    ...spec,
    steps: spec.steps.map((s) => ({
      ...s,
      env: { ...s.env, FILESET: values.fileset, FILESET_VERSION: String(version) },
    })),
  };
  const response = await fetch(`${api}/api/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    console.log(`could not submit a run for ${values.fileset} v${version}: ${answer.detail}`);
    return;
  }
  console.log(`submitted run ${answer.id} for ${values.fileset} v${version}`);
}

// The subscriber's own durable consumer: events of its project from when the credentials were
// made, kept while this program is not running; each is acknowledged once handled.
const consumer = await jetstream(nc).consumers.get(credentials.stream, credentials.consumer);
console.log(`listening to ${credentials.project}'s events (${credentials.subject})`);
for await (const msg of await consumer.consume()) {
  const event = msg.json();
  if (event.type === 'fileset.version_committed' && event.aggregateId === values.fileset) {
    await retrain(event.data.version);
  } else if (event.type === 'run.failed') {
    console.log(`run ${event.aggregateId} failed: ${event.data.reason}`);
  } else if (event.type === 'job.failed') {
    console.log(
      `job ${event.aggregateId} failed (${event.data.reason}): ${event.data.message ?? ''}`,
    );
  }
  msg.ack();
}
