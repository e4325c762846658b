import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { EventData } from '@acai/contracts';
import { eventingMigrations } from '@acai/eventing';
import { eventLog, migratedSchema } from '@acai/testkit';
import { lineageMigrations } from '../lineage/lineage.migration.js';
import { LineageProjection } from '../lineage/lineage.projection.js';
import { ProvenanceReuseSharing1797200000000 } from './sharing.migration.js';
import { SharingProjection } from './sharing.projection.js';
import { ProvenanceJobSignatures1796900000000 } from './signatures.migration.js';
import { SignaturesProjection } from './signatures.projection.js';
import { SqlSignaturesRepository } from './signatures.repository.js';

let schema: string;
let db: DataSource;
let drop: () => Promise<void> = () => Promise.resolve();

beforeAll(async () => {
  ({ db, schema, drop } = await migratedSchema('it_signatures_snapshot', [
    ...eventingMigrations,
    ProvenanceJobSignatures1796900000000,
    ProvenanceReuseSharing1797200000000,
    ...lineageMigrations,
  ]));
});

afterAll(async () => {
  await drop();
});

function committed(
  version: number,
  sha256: string,
  createdBy: EventData<'fileset.version_committed'>['createdBy'],
): EventData<'fileset.version_committed'> {
  return {
    version,
    parent: version - 1,
    manifest: { sha256, files: 1, bytes: 10 },
    changes: { added: 1, replaced: 0, deleted: 0 },
    metadata: {},
    labels: [],
    createdBy,
  };
}

const byJob = (jobId: string) => ({
  kind: 'job' as const,
  jobId,
  runId: 'run-1',
  step: 'etl',
  parameters: {},
  code: null,
});

describe('the reuse index snapshot', () => {
  it('loads the content of every version a job committed, of every project, from the lineage graph', async () => {
    // What provenance signs a step that reads another's result with (findReusableSteps): the
    // manifest of the version that result committed. Uploaded versions are not jobs' results.
    const lineage = new LineageProjection(schema);
    const p = eventLog({ project: 'p', firstSeq: 1 });
    const q = eventLog({ project: 'q', firstSeq: 10 });
    const events = [
      p('fileset.version_committed', 'raw', committed(1, 'm-raw-1', { kind: 'key', keyId: 'k' })),
      p('fileset.version_committed', 'data', committed(1, 'm-data-1', byJob('job-etl'))),
      p('fileset.version_committed', 'data', committed(2, 'm-data-2', byJob('job-etl-2'))),
      q('fileset.version_committed', 'data', committed(1, 'm-q-data-1', byJob('job-q'))),
    ];
    await db.transaction((m) => lineage.apply(m, events));

    const signatures = new SignaturesProjection(schema);
    const repository = new SqlSignaturesRepository(
      db,
      signatures,
      new SharingProjection(schema).table(),
      `"${schema}".projection_checkpoints`,
      `"${schema}".projection_replays`,
      lineage.nodes(),
    );
    const snapshot = await repository.snapshot();
    const manifests = [...(snapshot.signatures.manifests ?? [])].sort((a, b) =>
      `${a.project}/${a.fileset}@${a.version}`.localeCompare(
        `${b.project}/${b.fileset}@${b.version}`,
      ),
    );
    expect(manifests).toEqual([
      { project: 'p', fileset: 'data', version: 1, sha256: 'm-data-1' },
      { project: 'p', fileset: 'data', version: 2, sha256: 'm-data-2' },
      { project: 'q', fileset: 'data', version: 1, sha256: 'm-q-data-1' },
    ]);
  });
});
