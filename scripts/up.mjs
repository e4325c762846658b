#!/usr/bin/env node
// `npm run up`: starts NATS JetStream, Postgres and every acai service on this machine, with all
// state under $ACAI_HOME (default ./.acai). `npm run up -- --example` also runs the example
// pipeline through the gateway and prints its result; `--exit` stops once the example is done.
import path from 'node:path';
import { readFileSync } from 'node:fs';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const wantsExample = args.includes('--example');
const exitAfter = args.includes('--exit');
const home = path.resolve(process.env.ACAI_HOME ?? path.join(root, '.acai'));
const gatewayPort = Number(process.env.ACAI_PORT ?? 8080);
const say = (line) => console.log(`[acai] ${line}`);

const { startStack, MissingDependencyError } = await import('../libs/devstack/dist/index.js');

let stack;
try {
  stack = await startStack({
    root,
    home,
    gatewayPort,
    natsUrl: process.env.NATS_URL || undefined,
    databaseUrl: process.env.DATABASE_URL || undefined,
    say,
  });
} catch (error) {
  console.error(`[acai] could not start: ${error instanceof Error ? error.message : error}`);
  if (error instanceof MissingDependencyError)
    console.error('[acai] install what is missing and run `npm run up` again.');
  process.exit(1);
}

say(`gateway:  ${stack.gatewayUrl}  (API docs: ${stack.gatewayUrl}/api/docs)`);
say(
  `API key of project "default": ${stack.keyFile}   e.g.  curl -H "Authorization: Bearer $(cat ${stack.keyFile})" ${stack.gatewayUrl}/api/v1/runs`,
);
say(`logs:     ${stack.logDir}`);

let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  say('stopping...');
  await stack.stop();
  say('stopped. Data is kept in ' + home + '; `npm run up` resumes with it.');
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
stack.died.then((name) => {
  if (stopping) return;
  console.error(`[acai] ${name} stopped unexpectedly; see ${stack.logDir}`);
  void stop(1);
});

if (wantsExample) {
  const code = await runExample(stack).catch((error) => {
    console.error(`[acai] example failed: ${error instanceof Error ? error.message : error}`);
    return 1;
  });
  if (exitAfter) await stop(code);
}
if (!exitAfter) say('running; press Ctrl-C to stop.');

async function runExample(stack) {
  const file = path.join(root, 'examples', 'hello', 'run.json');
  const spec = JSON.parse(
    readFileSync(file, 'utf8').replaceAll('{{examples}}', path.join(root, 'examples')),
  );
  const headers = { authorization: `Bearer ${stack.key()}`, 'content-type': 'application/json' };
  const api = async (method, pathname, body) => {
    const response = await fetch(`${stack.gatewayUrl}${pathname}`, {
      method,
      headers,
      body: body && JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
    return text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text;
  };
  const started = Date.now();
  const submitted = await api('POST', '/api/v1/runs', spec);
  say(
    `submitted run ${submitted.id} (${spec.name}: ${submitted.jobs.map((j) => j.name).join(' -> ')})`,
  );
  for (const job of submitted.jobs) {
    const logs = await api('GET', `/api/v1/jobs/${job.id}/logs?follow=true`);
    for (const line of String(logs).trimEnd().split('\n'))
      if (line) console.log(`  ${job.name.padEnd(9)}| ${line}`);
    const view = await api('GET', `/api/v1/jobs/${job.id}`);
    if (view.status === 'failed' || view.status === 'cancelled') break;
  }
  let run;
  for (;;) {
    run = await api('GET', `/api/v1/runs/${submitted.id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(run.status)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  say(
    `run ${run.id} ${run.status} in ${((Date.now() - started) / 1000).toFixed(2)} s: ${run.jobs.map((j) => `${j.name}=${j.status}`).join(', ')}`,
  );
  say(
    `history of a job:  curl -H "Authorization: Bearer $(cat ${stack.keyFile})" ${stack.gatewayUrl}/api/v1/jobs/${run.jobs[0].id}/history`,
  );
  return run.status === 'succeeded' ? 0 : 1;
}
