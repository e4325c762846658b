import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runImport, startSystem, type TestSystem } from '../support/system.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../examples');

interface Spec {
  steps: { name: string; env?: Record<string, string> }[];
}

describe('the flights3m example (3 million flights, feature engineering over a large table)', () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.close();
  });

  it('imports flights-3m.parquet as file set flights3m, with its rows and columns from the Parquet footer', async () => {
    const imported = await runImport(system, 'tabular/import.mjs', 'flights3m');
    expect(imported).toEqual({
      code: 0,
      output: expect.stringContaining('committed flights3m v1: flights-3m.parquet, 3000000 rows'),
    });
    const version = (await system.api('GET', '/api/v1/filesets/flights3m/versions/latest'))
      .body as { metadata: { rows: number; columns: string[] } };
    expect(version.metadata.rows).toBe(3_000_000);
    expect(version.metadata.columns).toEqual([
      'date',
      'delay',
      'distance',
      'origin',
      'destination',
    ]);
  });

  it('runs the five steps of flights3m.json in sandboxed jobs, and computes none of them a second time', async () => {
    // The first 100,000 flights keep the test short; the steps are the same.
    const text = (await readFile(path.join(EXAMPLES, 'tabular/flights3m.json'), 'utf8')).replaceAll(
      '{{examples}}',
      await system.examples(),
    );
    const spec = JSON.parse(text) as Spec;
    for (const step of spec.steps)
      if (step.name === 'load') step.env = { ...step.env, ROWS: '100000' };

    const first = await system.api('POST', '/api/v1/runs', spec);
    expect(first.status).toBe(202);
    const run = await system.waitForRun((first.body as { id: string }).id, system.key, 300_000);
    expect(run.status).toBe('succeeded');

    // The model was validated on a hold-out of the train rows, and scored on the test rows.
    const model = (
      await system.api('GET', '/api/v1/filesets/flights3m-model/versions/latest/files/model.json')
    ).body as { cv: { method: string; metric: string; heldRows: number; mean: number } };
    expect(model.cv).toMatchObject({ method: 'holdout', metric: 'val_rmse', heldRows: 16_000 });
    const report = (
      await system.api('GET', '/api/v1/filesets/flights3m-report/versions/latest/files/report.json')
    ).body as { testRows: number; rmse: number; r2: number };
    expect(report.testRows).toBe(20_000);
    expect(report.rmse).toBeGreaterThan(0);
    expect(report.r2).toBeGreaterThan(0);

    // The same spec again: the plan takes evaluate's result and leaves the rest out.
    const again = await system.api('POST', '/api/v1/runs', spec);
    const second = await system
      .client()
      .getRun((await system.waitForRun((again.body as { id: string }).id, system.key, 60_000)).id);
    expect(second.status).toBe('succeeded');
    expect(second.jobs.map((j) => [j.name, j.status, typeof j.reusedFrom === 'string'])).toEqual([
      ['load', 'skipped', false],
      ['clean', 'skipped', false],
      ['features', 'skipped', false],
      ['train', 'skipped', false],
      ['evaluate', 'succeeded', true],
    ]);
  });
});
