#!/usr/bin/env node
// `npm test`: builds (quietly), type-checks (the whole suite only), starts a throwaway nats-server (from PATH) and an embedded Postgres under a
// temporary folder, runs every jest tier against them, and removes both. Set NATS_URL or
// DATABASE_URL to use servers you already run instead.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from './build.mjs';
import { requireNode24 } from './node-version.mjs';

requireNode24();

const root = path.resolve(import.meta.dirname, '..');
try {
  const built = await build();
  if (built !== null) console.log(`[acai] ${built}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}

// The whole suite also type-checks everything, specs included: jest compiles them with swc, which
// strips the types without checking them (a spec with a type error would otherwise pass).
if (process.argv.length <= 2) {
  const checked = await new Promise((resolve) => {
    const tsc = spawn(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'],
      { cwd: root, stdio: 'inherit' },
    );
    tsc.on('close', (code) => resolve(code === 0));
  });
  if (!checked) {
    console.error('[acai] type errors (above): fix them; `npm run typecheck` checks again');
    process.exit(1);
  }
}

const { startNats, startEmbeddedPostgres, ensureDatabase } =
  await import('../libs/devstack/dist/index.js');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'acai-test-'));
const stops = [];
let code = 1;
try {
  let natsUrl = process.env.NATS_URL;
  if (!natsUrl) {
    const nats = await startNats({ dataDir: path.join(scratch, 'nats') });
    stops.push(() => nats.stop());
    natsUrl = nats.url;
  }
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg') });
    stops.push(() => pg.stop());
    databaseUrl = await ensureDatabase(pg.url, 'acai_test');
  }
  console.log(
    `tests use NATS at ${natsUrl} and Postgres at ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}`,
  );
  const jest = spawn(
    process.execPath,
    [
      // Jest runs the ESM-only NestJS 12 through vm modules, still flagged experimental in Node
      // 24: a known, chosen dependency, so its warning is not repeated in every run.
      '--experimental-vm-modules',
      '--disable-warning=ExperimentalWarning',
      'node_modules/jest/bin/jest.js',
      ...process.argv.slice(2),
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, NATS_URL: natsUrl, DATABASE_URL: databaseUrl },
    },
  );
  const forward = (signal) => jest.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  code = await new Promise((resolve) => jest.on('exit', (c) => resolve(c ?? 1)));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
