import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { copyDependencies } from './job-access.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'acai-job-access-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const write = (file: string, text: string): void => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
};

describe('copyDependencies', () => {
  it("copies the examples' installed packages, not acai's own, beside the copy", async () => {
    // A checkout: examples/tabular depends on hyparquet (hoisted to the root's node_modules) and
    // @acai/sdk; examples/mnist on a package that is not installed.
    const checkout = path.join(root, 'checkout');
    write(
      path.join(checkout, 'examples/tabular/package.json'),
      JSON.stringify({ dependencies: { '@acai/sdk': '*', hyparquet: '1.33.0' } }),
    );
    write(
      path.join(checkout, 'examples/mnist/package.json'),
      JSON.stringify({ dependencies: { missing: '1.0.0' } }),
    );
    write(path.join(checkout, 'examples/README.md'), 'not an example');
    write(path.join(checkout, 'node_modules/hyparquet/package.json'), '{"name":"hyparquet"}');
    write(path.join(checkout, 'node_modules/hyparquet/src/index.js'), 'export const x = 1;');
    write(path.join(checkout, 'node_modules/@acai/sdk/package.json'), '{"name":"@acai/sdk"}');
    const copy = path.join(root, 'copy');

    expect(await copyDependencies(path.join(checkout, 'examples'), copy)).toEqual(['hyparquet']);
    expect(readFileSync(path.join(copy, 'node_modules/hyparquet/src/index.js'), 'utf8')).toBe(
      'export const x = 1;',
    );
    expect(() => readFileSync(path.join(copy, 'node_modules/@acai/sdk/package.json'))).toThrow();
  });
});
