import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, which playwright-core drives (it downloads no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';

function aptGet(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`;
  return { ok: result.status === 0, output: output.trim().split('\n').slice(-15).join('\n') };
}

/**
 * Installs Chromium when it is missing (`apt-get install -y chromium`, as root: tests run as root
 * on the test machines), then launches it headless. Fails saying what to do when it cannot.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `The browser tests need Chromium at ${CHROMIUM}: run \`sudo apt-get install -y chromium\``,
      );
    }
    let install = aptGet(['install', '-y', 'chromium']);
    // A fresh machine may not have the package lists yet.
    if (!install.ok) {
      aptGet(['update']);
      install = aptGet(['install', '-y', 'chromium']);
    }
    if (!install.ok || !existsSync(CHROMIUM)) {
      throw new Error(
        `Could not install Chromium for the browser tests (apt-get install -y chromium failed):\n${install.output}`,
      );
    }
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
