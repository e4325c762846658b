#!/usr/bin/env node
// Hunts flaky tests: runs the test suite (or a part of it) again and again and reports every
// failure, grouped by test, with its first lines. Optionally with a second acai stack running
// beside it, busy with runs of its own, as on a shared machine.
//
//   node scripts/soak.mjs                          the whole suite, 10 times
//   node scripts/soak.mjs --runs 20 --beside -- --selectProjects e2e
//   node scripts/soak.mjs --runs 20 -- test/e2e/simulated.e2e-spec.ts
//
// Everything after `--` goes to jest (through `npm test`'s script, which starts its own
// nats-server and Postgres for each round). Results: soak-results/<time>/ (one jest JSON report
// per round and summary.json). Exit code 1 when any round failed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from './build.mjs';
import { requireNode24 } from './node-version.mjs';

requireNode24();

const root = path.resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const own = split === -1 ? argv : argv.slice(0, split);
const jestArgs = split === -1 ? [] : argv.slice(split + 1);

function option(name, fallback) {
  const at = own.indexOf(name);
  if (at === -1) return fallback;
  const value = own[at + 1];
  if (value === undefined) usage(`${name} needs a value`);
  return value;
}
function usage(problem) {
  console.error(`soak: ${problem}`);
  console.error(
    'usage: node scripts/soak.mjs [--runs N] [--beside] [--stop-on-failure] [-- <jest args>]',
  );
  process.exit(2);
}
for (const arg of own) {
  if (arg.startsWith('--') && !['--runs', '--beside', '--stop-on-failure'].includes(arg)) {
    usage(`unknown option ${arg}`);
  }
}
const runs = Number(option('--runs', '10'));
if (!Number.isInteger(runs) || runs < 1) usage('--runs must be a whole number ≥ 1');
const beside = own.includes('--beside');
const stopOnFailure = own.includes('--stop-on-failure');

const say = (line) => console.log(`[soak] ${line}`);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = path.join(root, 'soak-results', stamp);
mkdirSync(outDir, { recursive: true });

try {
  const built = await build();
  if (built !== null) say(built);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}

const neighbour = beside ? await startNeighbour() : undefined;

/** @type {Map<string, { count: number; rounds: number[]; firstLines: string }>} */
const failures = new Map();
const rounds = [];
let failedRounds = 0;
try {
  for (let round = 1; round <= runs; round++) {
    const report = path.join(outDir, `round-${round}.json`);
    const started = Date.now();
    const code = await runTests([...jestArgs, '--json', `--outputFile=${report}`], round);
    const seconds = (Date.now() - started) / 1000;
    const failed = readFailures(report);
    for (const f of failed) {
      const entry = failures.get(f.name) ?? { count: 0, rounds: [], firstLines: f.firstLines };
      entry.count += 1;
      entry.rounds.push(round);
      failures.set(f.name, entry);
    }
    if (code !== 0) failedRounds += 1;
    rounds.push({ round, code, seconds, failed: failed.map((f) => f.name) });
    say(
      `round ${round}/${runs}: ${code === 0 ? 'passed' : `FAILED (${failed.length > 0 ? failed.map((f) => f.name).join('; ') : `exit code ${code}`})`} in ${seconds.toFixed(0)} s`,
    );
    if (code !== 0 && stopOnFailure) break;
  }
} finally {
  await neighbour?.stop();
}

const summary = {
  runs: rounds.length,
  failedRounds,
  beside,
  jestArgs,
  rounds,
  failures: Object.fromEntries(failures),
};
writeFileSync(path.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
say('');
if (failedRounds === 0) {
  say(`all ${rounds.length} rounds passed${beside ? ' (with a busy stack beside)' : ''}`);
} else {
  say(`${failedRounds} of ${rounds.length} rounds failed:`);
  for (const [name, f] of failures) {
    say(`  ${f.count}× ${name} (rounds ${f.rounds.join(', ')})`);
    for (const line of f.firstLines.split('\n')) say(`      ${line}`);
  }
}
say(`reports: ${outDir}`);
process.exit(failedRounds === 0 ? 0 : 1);

/** Runs `npm test`'s script once with these jest arguments; resolves with its exit code. */
function runTests(args, round) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'scripts', 'test.mjs'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ACAI_SOAK_ROUND: String(round) },
    });
    let log = '';
    child.stdout.on('data', (c) => (log += c));
    child.stderr.on('data', (c) => (log += c));
    child.on('close', (code) => {
      writeFileSync(path.join(outDir, `round-${round}.log`), log);
      resolve(code ?? 1);
    });
  });
}

/** Failed tests of a jest JSON report: `file › describe › test` and the failure's first lines. */
function readFailures(report) {
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    return [{ name: '(no jest report: the run did not finish)', firstLines: '' }];
  }
  const out = [];
  for (const suite of parsed.testResults ?? []) {
    const file = path.relative(root, suite.name);
    const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
    if (failedTests.length === 0 && suite.status === 'failed') {
      out.push({ name: file, firstLines: firstLines(suite.message ?? '') });
    }
    for (const t of failedTests) {
      out.push({
        name: `${file} › ${t.fullName}`,
        firstLines: firstLines((t.failureMessages ?? []).join('\n')),
      });
    }
  }
  return out;
}

function firstLines(text) {
  return text
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(0, 4)
    .join('\n');
}

/**
 * A second acai stack in a temporary home, with its own nats-server and Postgres, submitting the
 * hello pipeline every few seconds while the tests run: the load of a shared machine.
 */
async function startNeighbour() {
  const { startStack } = await import('../libs/devstack/dist/index.js');
  const home = mkdtempSync(path.join(os.tmpdir(), 'acai-soak-beside-'));
  say(`starting a busy stack beside the tests in ${home}`);
  const stack = await startStack({ root, home, gatewayPort: 0 });
  const spec = JSON.parse(
    readFileSync(path.join(root, 'examples/hello/run.json'), 'utf8').replaceAll(
      '{{examples}}',
      await stack.examples(),
    ),
  );
  let stopping = false;
  let submitted = 0;
  const loop = (async () => {
    while (!stopping) {
      try {
        const response = await fetch(`${stack.gatewayUrl}/api/v1/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.key()}`, 'content-type': 'application/json' },
          body: JSON.stringify(spec),
        });
        if (response.ok) submitted += 1;
      } catch {
        // It is only load: a refused submission changes nothing.
      }
      await new Promise((r) => setTimeout(r, 3_000));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      say(`the stack beside ran ${submitted} runs; stopping it`);
      await stack.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
