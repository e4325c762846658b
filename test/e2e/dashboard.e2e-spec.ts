import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startSystem, type TestSystem } from '../support/system.js';

/** The browser's window, as far as this test uses it (its types have no DOM). */
interface Painted {
  getComputedStyle(element: unknown): { fill: string };
}

/** Where the screenshots go (gitignored): look at them after a change to the dashboard. */
const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts/dashboard');

describe('the ops dashboard, in a real browser', () => {
  let system: TestSystem;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    system = await startSystem();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await system?.close();
  });

  const shot = (name: string) =>
    page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  it('is served at / with the right types and caching, and leaves the API’s paths alone', async () => {
    const index = await fetch(`${system.gatewayUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${system.gatewayUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // A page of the app is the app (its router shows it); a missing asset is not.
    const deep = await fetch(`${system.gatewayUrl}/runs/run-0123456789abcdefghijklmno`);
    expect([deep.status, await deep.text()]).toEqual([200, html]);
    expect((await fetch(`${system.gatewayUrl}/assets/index-missing.js`)).status).toBe(404);
    // Never the API's, nor the ops endpoints': a wrong API URL is a problem document.
    const wrong = await fetch(`${system.gatewayUrl}/api/v1/no-such-thing`);
    expect(wrong.status).toBe(404);
    expect(wrong.headers.get('content-type')).toContain('application/problem+json');
    expect(((await wrong.json()) as { reason: string }).reason).toBe('NO_SUCH_ROUTE');
    expect((await fetch(`${system.gatewayUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${system.gatewayUrl}/metrics`)).headers.get('content-type')).toContain(
      'text/plain',
    );
    // API routes still need a key.
    expect((await fetch(`${system.gatewayUrl}/api/v1/runs`)).status).toBe(401);
    // Nothing outside the dashboard's folder.
    const escape = await fetch(`${system.gatewayUrl}/%2e%2e/%2e%2e/package.json`);
    expect(await escape.text()).not.toContain('"@acai/dashboard"');
  });

  it('signs in, submits a run, shows its DAG turn green, the loss curve, the logs, and file sets', async () => {
    await system.api('POST', '/api/v1/filesets', { name: 'dashboard-digits', labels: ['data'] });
    await system.api('POST', '/api/v1/filesets', { name: 'other-set', labels: ['data'] });

    await page.goto(`${system.gatewayUrl}/`);
    // A wrong key is refused, saying why.
    await page.fill('input[name=key]', 'acai_wrong_key');
    await page.click('button[type=submit]');
    await page.waitForSelector('.error');
    expect(await page.textContent('.error')).toMatch(/key/i);
    await shot('01-sign-in-refused');

    await page.fill('input[name=key]', system.key);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Runs")');

    await page.click('a:text("Submit a run")');
    const spec = {
      name: 'dashboard-e2e',
      steps: [
        { name: 'prepare', command: ['sh', '-c', 'echo preparing the data'] },
        {
          name: 'train',
          needs: ['prepare'],
          command: [
            'sh',
            '-c',
            'for e in 1 2 3 4 5; do echo "epoch $e"; echo "##acai metric step=$e loss=0.$((10 - e))"; sleep 0.2; done; echo weights > "$ACAI_OUTPUT_MODEL/weights.txt"',
          ],
          outputs: [{ fileset: 'model' }],
        },
      ],
    };
    await page.fill('textarea[name=spec]', JSON.stringify(spec, null, 2));
    await page.click('button[type=submit]');
    await page.waitForURL(/\/runs\/run-/);
    const runId = page.url().split('/').pop()!;

    // The DAG: both steps, the edge between them, and each box green once its job succeeded.
    await page.waitForSelector('g.dag-node[data-node="train"][data-status="succeeded"]');
    await page.waitForSelector('g.dag-node[data-node="prepare"][data-status="succeeded"]');
    expect(await page.locator('path.dag-edge').count()).toBe(1);
    // The box's colour as the browser paints it.
    const fill = await page
      .locator('g.dag-node[data-node="train"] rect')
      .evaluate((rect) => (globalThis as unknown as Painted).getComputedStyle(rect).fill);
    expect(fill).toBe('rgb(218, 251, 225)');
    await page.waitForSelector('h1 .status-succeeded');
    // The scheduler's decisions with their reasons.
    expect(await page.textContent('table.timeline')).toContain('job.provisioned');
    await shot('02-run');

    // The job: the loss curve per epoch, then its logs.
    await page.click('g.dag-node[data-node="train"]');
    await page.waitForURL(/\/jobs\/job-/);
    await page.waitForSelector('.chart[data-metric="loss"] canvas');
    expect(await page.textContent('.chart[data-metric="loss"]')).toContain('loss');
    await shot('03-job-metrics');
    await page.click('button:text("Open logs")');
    await page.waitForSelector('pre.logs[data-state="ended"]');
    const logs = await page.textContent('pre.logs');
    expect(logs).toContain('epoch 5');
    await shot('04-job-logs');

    // The runs list shows it.
    await page.click('header a:text("Runs")');
    await page.waitForSelector(`a:text("${runId}")`);

    // File sets: search by name prefix.
    await page.click('header a:text("File sets")');
    await page.fill('input[name=prefix]', 'dashboard-');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForURL(/prefix=dashboard-/);
    await page.waitForSelector('td a:text("dashboard-digits")');
    expect(await page.locator('td a:text("other-set")').count()).toBe(0);
    await shot('05-filesets');

    await page.click('td a:text("dashboard-digits")');
    await page.waitForSelector('h1:text("File set dashboard-digits")');
    expect(await page.locator('.error').count()).toBe(0);

    // The model the run made, and its lineage: made by the train step.
    await page.goto(`${system.gatewayUrl}/filesets/model`);
    await page.click('td a:text("graph")');
    await page.waitForURL(/\/lineage\?fileset=model&version=1/);
    await page.waitForSelector('g.dag-node[data-node="model v1"]');
    await page.waitForSelector('g.dag-node[data-node="train"][data-status="succeeded"]');
    expect(await page.locator('path.dag-edge').count()).toBeGreaterThanOrEqual(1);
    await shot('06-lineage');

    // Nodes with what they run and cost; dead letters (this key is the platform admin's too).
    await page.click('header a:text("Nodes")');
    await page.waitForSelector('section table, section p.muted');
    expect(await page.locator('.error').count()).toBe(0);
    await shot('07-nodes');
    await page.click('header a:text("Dead letters")');
    await page.waitForSelector('text=/\\d+ letters/');
    expect(await page.locator('.error').count()).toBe(0);

    // The live events page connects, or says clearly that this gateway has no stream.
    await page.click('header a:text("Live events")');
    await page.waitForSelector('.stream-live, .error');
    if ((await page.locator('.stream-live').count()) === 0) {
      expect(await page.textContent('.error')).toContain('GET /api/v1/events answered 404');
    }
    await shot('08-events');

    // An unknown run is an error on the page, not a blank page.
    await page.goto(`${system.gatewayUrl}/runs/run-0123456789abcdefghijklmno`);
    await page.waitForSelector('.error');
    expect(await page.textContent('.error')).toMatch(/run/i);

    expect(pageErrors).toEqual([]);
  });
});
