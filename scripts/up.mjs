#!/usr/bin/env node
// `npm run up`: builds what changed, then starts NATS JetStream, Postgres and every acai service
// on this machine, with all state under $ACAI_HOME (default ./.acai), and keeps them running: a
// service that dies is restarted. `npm run up -- --example` also runs the example pipeline through
// the gateway and prints its result; `--exit` stops once the example is done.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { build } from './build.mjs';
import { requireNode24 } from './node-version.mjs';

requireNode24();

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const exampleArg = args.find((a) => a === '--example' || a.startsWith('--example='));
const wantsExample = exampleArg !== undefined;
// `--example` runs the MNIST pipeline; `--example=mnist-sweep` its sweep over learning rate and
// hidden size (examples/mnist/sweep.json); `--example=mnist-deadline` the pipeline under a deadline
// that training on 1 CPU misses, so that acai moves it to 2 CPUs while it trains
// (examples/mnist/deadline.json); `--example=hello` the small three-step one; `--example=tabular`
// the weather pipeline (examples/tabular/run.json, after importing its table).
const exampleName = exampleArg?.includes('=') ? exampleArg.split('=')[1] : undefined;
const exitAfter = args.includes('--exit');
const home = path.resolve(process.env.ACAI_HOME ?? path.join(root, '.acai'));
// The gateway listens on ACAI_PORT; without one, on 8080, or any free port if 8080 is taken.
const gatewayPort = Number(process.env.ACAI_PORT || 8080);
const say = (line) => console.log(`[acai] ${line}`);

try {
  const built = await build();
  if (built !== null) say(built);
} catch (error) {
  console.error(`[acai] ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
const { startStack, MissingDependencyError, whereThingsAre } =
  await import('../libs/devstack/dist/index.js');

// Ctrl-C while the services start is kept for when they have: then everything stops in order
// (the default action would kill the launcher and leave them to notice on their own).
let stopAsked = false;
const askStop = () => {
  stopAsked = true;
};
process.on('SIGINT', askStop);
process.on('SIGTERM', askStop);

let stack;
try {
  stack = await startStack({
    root,
    home,
    gatewayPort,
    gatewayPortFallback: !process.env.ACAI_PORT,
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

// Where each way in is, and the key to sign in with (the development key this launcher made).
for (const line of whereThingsAre({
  gatewayUrl: stack.gatewayUrl,
  grpcAddress: stack.grpcAddress,
  key: stack.key(),
  keyFile: stack.keyFile,
}))
  say(line);
say(`  logs:      ${stack.logDir}`);
say(`  ports and processes: ${path.join(home, 'stack.json')}`);

let stopping = false;
const stop = async (code) => {
  if (stopping) return;
  stopping = true;
  say('stopping...');
  await stack.stop();
  say('stopped. Data is kept in ' + home + '; `npm run up` resumes with it.');
  process.exit(code);
};
process.off('SIGINT', askStop);
process.off('SIGTERM', askStop);
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
if (stopAsked) await stop(0);

if (wantsExample) {
  const code = await runExample(stack).catch((error) => {
    console.error(`[acai] example failed: ${error instanceof Error ? error.message : error}`);
    return 1;
  });
  if (exitAfter) await stop(code);
}
if (!exitAfter) say('running; press Ctrl-C to stop.');

async function runExample(stack) {
  const which = exampleName ?? 'mnist';
  const variants = { 'mnist-sweep': 'sweep.json', 'mnist-deadline': 'deadline.json' };
  const mnist = which === 'mnist' || which in variants;
  const file =
    which in variants
      ? path.join(root, 'examples', 'mnist', variants[which])
      : path.join(root, 'examples', which, 'run.json');
  const spec = JSON.parse(
    readFileSync(file, 'utf8').replaceAll('{{examples}}', await stack.examples()),
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
  const show = (name, text) => {
    for (const line of String(text).trimEnd().split('\n'))
      if (line && !line.startsWith('##acai')) console.log(`  ${name.padEnd(9)}| ${line}`);
  };
  const started = Date.now();
  if (mnist) {
    say('importing MNIST as file set "mnist" (examples/mnist/import.mjs)');
    const { stdout } = await run(process.execPath, [path.join(root, 'examples/mnist/import.mjs')], {
      ACAI_URL: stack.gatewayUrl,
      ACAI_KEY: stack.key(),
    });
    show('import', stdout);
  }
  if (which === 'tabular') {
    say('importing the weather table as file set "weather" (examples/tabular/import.mjs)');
    const { stdout } = await run(
      process.execPath,
      [path.join(root, 'examples/tabular/import.mjs')],
      { ACAI_URL: stack.gatewayUrl, ACAI_KEY: stack.key() },
    );
    show('import', stdout);
  }
  const submitted = await api('POST', '/api/v1/runs', spec);
  say(
    `submitted run ${submitted.id} (${spec.name}: ${submitted.jobs.map((j) => j.name).join(' -> ')})`,
  );
  for (const job of submitted.jobs) {
    await reportProfiling(api, job, say);
    // Each line as the job prints it (the gateway streams the job's output until it ends).
    await followLogs(
      `${stack.gatewayUrl}/api/v1/jobs/${job.id}/logs?follow=true`,
      headers,
      (line) => show(job.name, line),
    );
    const view = await api('GET', `/api/v1/jobs/${job.id}`);
    for (const move of (await api('GET', `/api/v1/jobs/${job.id}/history`)).filter(
      (e) => e.type === 'job.rescale_requested',
    ))
      say(
        `${job.name}: moved from ${move.data.from.name} to ${move.data.to.name}: ${move.data.reason}`,
      );
    if (view.reason === 'early_stopped') say(`${job.name}: ${view.message}`);
    else if (['failed', 'cancelled', 'skipped'].includes(view.status)) break;
  }
  let finished;
  for (;;) {
    finished = await api('GET', `/api/v1/runs/${submitted.id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(finished.status)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - started) / 1000;
  let total = 0;
  console.log('');
  console.log(
    `  ${'step'.padEnd(9)} ${'status'.padEnd(10)} ${'configuration'.padEnd(22)} ${'time'.padStart(8)} ${'cost'.padStart(11)}`,
  );
  for (const job of finished.jobs) {
    const history = await api('GET', `/api/v1/jobs/${job.id}/history`);
    const { offer, seconds: ran, cost, decision } = costOf(history);
    total += cost;
    console.log(
      `  ${job.name.padEnd(9)} ${job.status.padEnd(10)} ${(offer?.name ?? '-').padEnd(22)} ${`${ran.toFixed(1)} s`.padStart(8)} ${`$${cost.toFixed(6)}`.padStart(11)}`,
    );
    if (decision) console.log(`  ${''.padEnd(9)} auto-provisioner: ${decision.reason}`);
    const reused = history.find((e) => e.type === 'job.reused');
    if (reused) {
      console.log(
        `  ${''.padEnd(9)} reused: ${reused.data.reason} (saved ${(reused.data.from.savedSeconds ?? 0).toFixed(1)} s)`,
      );
    }
  }
  const profiling = (await api('GET', '/api/v1/runs?limit=100')).items.filter(
    (r) => r.name.startsWith('profile-') && Date.parse(r.createdAt) >= started - 1000,
  );
  let profilingCost = 0;
  for (const run of profiling)
    for (const job of run.jobs)
      profilingCost += costOf(await api('GET', `/api/v1/jobs/${job.id}/history`)).cost;
  if (finished.sweeps !== undefined) await showTrials(api, finished.id);
  console.log('');
  if (mnist && finished.status === 'succeeded') {
    const report = await api(
      'GET',
      '/api/v1/filesets/mnist-report/versions/latest/files/report.json',
    );
    say(`test accuracy: ${(report.accuracy * 100).toFixed(2)}% on ${report.examples} images`);
  }
  say(
    `run ${finished.id} ${finished.status} in ${seconds.toFixed(1)} s; simulated cost $${total.toFixed(6)}` +
      (profilingCost > 0 ? ` (+ $${profilingCost.toFixed(6)} of profiling runs)` : '') +
      ' at the instance-type catalogue’s prices',
  );
  if (finished.reuse) {
    say(
      `${finished.reuse.jobs} of ${finished.jobs.length} steps reused earlier results instead of running, saving ${finished.reuse.savedSeconds.toFixed(1)} s (a step runs again when its code, parameters or inputs change; "reuse": "never" forces it)`,
    );
  }
  say(
    `history of a job:  curl -H "Authorization: Bearer $(cat ${stack.keyFile})" ${stack.gatewayUrl}/api/v1/jobs/${finished.jobs.at(-1).id}/history`,
  );
  return finished.status === 'succeeded' ? 0 : 1;
}

/** The table of a run's trials (GET /runs/{id}/trials), and the best of each sweep. */
async function showTrials(api, runId) {
  const { sweeps } = await api('GET', `/api/v1/runs/${runId}/trials`);
  for (const sweep of sweeps) {
    const metric = sweep.objective?.metric ?? 'objective';
    console.log('');
    console.log(`  sweep of ${sweep.step}: ${sweep.trials.length} trials`);
    for (const t of sweep.trials) {
      const params = Object.entries(t.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      const value = t.objective === null ? '-' : t.objective.toFixed(4);
      const why = t.earlyStopped
        ? `stopped at step ${t.earlyStopped.step}: ${t.earlyStopped.value.toFixed(4)} vs ${t.earlyStopped.threshold.toFixed(4)} (${t.earlyStopped.rule})`
        : '';
      console.log(
        `  ${t.name.padEnd(9)} ${t.status.padEnd(10)} ${params.padEnd(32)} ${metric} ${value.padStart(8)}  ${why}`,
      );
    }
    if (sweep.best) {
      const params = Object.entries(sweep.best.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      say(
        `best trial of ${sweep.step}: ${sweep.best.name} (${params}), ${metric} ${sweep.best.value.toFixed(4)}`,
      );
    }
  }
}

/** Calls `onLine` with each line of a followed log as it arrives, until the job's end. */
async function followLogs(url, headers, onLine) {
  const response = await fetch(url, { headers });
  if (!response.ok || response.body === null) {
    throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  }
  let pending = '';
  for await (const text of response.body.pipeThrough(new TextDecoderStream())) {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  }
  if (pending !== '') onLine(pending);
}

/** What a job cost: its configuration's price × how long it ran, from its history. */
function costOf(history) {
  // Every attempt that ran, at the price of the configuration it ran on (a job moved to another
  // configuration ran on two).
  let price = 0;
  let seconds = 0;
  let cost = 0;
  let provisioned;
  for (const e of history) {
    if (e.type === 'job.provisioned') {
      provisioned = e;
      price = e.data.offer?.pricePerHour ?? 0;
    }
    if (['job.succeeded', 'job.failed', 'job.rescaled', 'job.retry_scheduled'].includes(e.type)) {
      const ran = (e.data.durationMs ?? 0) / 1000;
      seconds += ran;
      cost += (price * ran) / 3600;
    }
  }
  return {
    offer: provisioned?.data.offer ?? null,
    seconds,
    cost,
    decision: provisioned?.data.decision?.rule === 'pinned' ? null : provisioned?.data.decision,
  };
}

/** While a step waits for its profiling run, says so and shows each profiling job as it ends. */
async function reportProfiling(api, job, say) {
  let announced;
  const shown = new Set();
  const showEnded = async () => {
    const run = await api('GET', `/api/v1/runs/${announced}`);
    for (const j of run.jobs) {
      if (shown.has(j.id) || !['succeeded', 'failed', 'cancelled', 'skipped'].includes(j.status))
        continue;
      shown.add(j.id);
      const history = await api('GET', `/api/v1/jobs/${j.id}/history`);
      const { offer, seconds } = costOf(history);
      const epochs = history.find((e) => e.type === 'job.queued')?.data.env.EPOCHS;
      say(
        `  profiling ${j.name}: ${j.status} on ${offer?.name ?? '?'}${epochs ? ` with EPOCHS=${epochs}` : ''} in ${seconds.toFixed(1)} s`,
      );
    }
  };
  for (;;) {
    const view = await api('GET', `/api/v1/jobs/${job.id}`);
    const waiting = ['pending', 'queued'].includes(view.status);
    if (!announced && waiting) {
      const runs = (await api('GET', '/api/v1/runs?limit=20')).items;
      const profiling = runs.find(
        (r) => r.name === `profile-${job.name}` && r.status !== 'succeeded',
      );
      if (profiling) {
        announced = profiling.id;
        say(
          `${job.name}: nothing is known of it yet; the auto-provisioner profiles it first (run ${profiling.id}, ${profiling.jobs.length} short runs)`,
        );
      }
    }
    if (announced) await showEnded();
    if (!waiting) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs a program to its end; rejects with its output when it fails. */
function run(command, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ stdout })
        : reject(
            new Error(
              `${path.basename(args[0] ?? command)} exited with ${code}: ${stderr || stdout}`,
            ),
          ),
    );
  });
}
