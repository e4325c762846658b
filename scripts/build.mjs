// The build that `npm run up`, `npm test` and `npm run bench` run first: every project through
// Nx (cached), quietly. Nothing is printed when everything came from the cache, one line when
// something was built, and Nx's whole output only when the build failed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireNode24 } from './node-version.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds every project. Resolves with a one-line summary, or null when all came from the cache;
 * rejects with Nx's output when the build fails.
 * @returns {Promise<string | null>}
 */
export function build() {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'),
        'run-many',
        '-t',
        'build',
        '--output-style=static',
      ],
      { cwd: root, env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`the build failed:\n${output.trim()}`));
        return;
      }
      const cached = /for (\d+) out of (\d+) tasks/.exec(output);
      const total = /Successfully ran target build for (\d+) projects?/.exec(output);
      const all = Number(total?.[1] ?? cached?.[2] ?? 0);
      const fromCache = Number(cached?.[1] ?? 0);
      if (all > 0 && fromCache === all) {
        resolve(null);
        return;
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      resolve(
        `built ${all - fromCache} of ${all} projects in ${seconds} s (the rest were up to date)`,
      );
    });
  });
}

// `node scripts/build.mjs`: the same, as a command.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  requireNode24();
  try {
    const summary = await build();
    if (summary !== null) console.log(`[acai] ${summary}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
