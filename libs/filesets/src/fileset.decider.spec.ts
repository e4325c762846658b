import { describe, it, expect } from '@jest/globals';
import {
  FilesetProblems,
  type Creator,
  type EventData,
  type ManifestRef,
  type Metadata,
  type NewEvent,
  type Problem,
} from '@acai/contracts';
import { deciderSpec } from '@acai/testkit';
import {
  filesetDecider,
  latestVersion,
  MAX_METADATA_BYTES,
  resolveVersion,
  type FilesetCommand,
  type FilesetState,
  type MetadataOp,
} from './fileset.decider.js';

const spec = deciderSpec(filesetDecider);

const {
  FILESET_EXISTS,
  FILESET_NOT_FOUND,
  FILESET_EMPTY,
  FILESET_PARENT_MISMATCH,
  FILESET_PARENT_MISSING,
  LABEL_INVALID,
  METADATA_TOO_LARGE,
  VERSION_LABEL_NOT_FOUND,
  VERSION_NOT_FOUND,
  VERSION_PINNED,
} = FilesetProblems;

/** The error deciding `command` after `events` throws; fails the test if it throws none. */
function refusal(events: NewEvent[], command: FilesetCommand): unknown {
  const { state } = spec.given(events);
  try {
    filesetDecider.decide(command, state);
  } catch (error) {
    return error;
  }
  throw new Error('decided without error, expected a refusal');
}

const uploader: Creator = { kind: 'key', keyId: 'key-1' };
const trainingJob: Creator = {
  kind: 'job',
  jobId: 'job-7',
  runId: 'run-3',
  step: 'prepare',
  parameters: { seed: '42' },
  code: 'git:abc123',
};
const manifest = (version: number): ManifestRef => ({
  sha256: String(version % 10).repeat(64),
  files: version,
  bytes: version * 1000,
});

const createdData: EventData<'fileset.created'> = {
  name: 'mnist',
  metadata: { source: 'yann.lecun.com' },
  labels: ['images'],
  createdBy: uploader,
};
const created: NewEvent = { type: 'fileset.created', data: createdData };

function committed(
  version: number,
  extra: Partial<EventData<'fileset.version_committed'>> = {},
): NewEvent {
  return {
    type: 'fileset.version_committed',
    data: {
      version,
      parent: version - 1,
      manifest: manifest(version),
      changes: { added: 1, replaced: 0, deleted: 0 },
      metadata: {},
      labels: [],
      createdBy: uploader,
      ...extra,
    },
  };
}
const v1 = committed(1);
const v2 = committed(2);

type CommitCommand = Extract<FilesetCommand, { kind: 'commit' }>;
const commit = (parent: number, extra: Partial<CommitCommand> = {}): CommitCommand => ({
  kind: 'commit',
  parent,
  manifest: manifest(parent + 1),
  changes: { added: 1, replaced: 0, deleted: 0 },
  metadata: {},
  labels: [],
  createdBy: uploader,
  ...extra,
});

const onFileset = { version: null };
const metadataOf = (target: { version: number | null }, change: MetadataOp): FilesetCommand => ({
  kind: 'change_metadata',
  target,
  change,
});
const labelsOf = (
  target: { version: number | null },
  add: string[],
  remove: string[] = [],
): FilesetCommand => ({ kind: 'change_labels', target, add, remove });

const pin = (version: number, pinned = true): FilesetCommand => ({ kind: 'pin', version, pinned });
const pinned = (version: number, on = true): NewEvent => ({
  type: 'fileset.version_pinned',
  data: { version, pinned: on },
});
const evict = (version: number): FilesetCommand => ({
  kind: 'evict',
  version,
  reason: 'unused for 30 days',
});
const evicted = (version: number): NewEvent => ({
  type: 'fileset.version_evicted',
  data: { version, reason: 'unused for 30 days' },
});

/** Metadata whose JSON is exactly `bytes` bytes long. */
const metadataOfBytes = (bytes: number): Metadata => ({ blob: 'x'.repeat(bytes - 11) });

describe('filesetDecider', () => {
  describe('create', () => {
    it('creates a file set with its labels sorted and deduplicated', () => {
      spec
        .given([])
        .when({
          kind: 'create',
          name: 'mnist',
          metadata: { source: 'yann.lecun.com' },
          labels: ['train', 'images', 'train'],
          createdBy: uploader,
        })
        .then([
          {
            type: 'fileset.created',
            data: { ...createdData, labels: ['images', 'train'] },
          },
        ]);
    });

    it('refuses a second file set with the same name, saying it exists', () => {
      const command: FilesetCommand = { kind: 'create', ...createdData };

      spec.given([created]).when(command).thenThrows(FILESET_EXISTS);
      expect(refusal([created], command)).toMatchObject({
        message: "File set 'mnist' exists already in this project",
      });
    });

    it('refuses an invalid label, naming which one', () => {
      expect(
        refusal([], { kind: 'create', ...createdData, labels: ['images', 'not a label'] }),
      ).toMatchObject({
        reason: LABEL_INVALID.reason,
        details: [{ path: 'labels.1', message: 'not a valid label' }],
      });
    });

    it('refuses metadata over 64 KiB', () => {
      spec
        .given([])
        .when({ kind: 'create', ...createdData, metadata: metadataOfBytes(MAX_METADATA_BYTES + 1) })
        .thenThrows(METADATA_TOO_LARGE);
    });
  });

  describe('commit', () => {
    it('commits version 1 on an empty file set', () => {
      spec.given([created]).when(commit(0)).then([v1]);
    });

    it('answers a commit sent again with its idempotency key with nothing new, whatever its parent says', () => {
      const key = 'job-1.1.output.model';
      const first = committed(2, { commitId: key });
      spec
        .given([created, v1])
        .when(commit(1, { commitId: key }))
        .then([first]);
      // Its answer was lost and it is sent again, after someone else committed on top.
      spec
        .given([created, v1, first, committed(3)])
        .when(commit(1, { commitId: key }))
        .then([]);
      // Another key is another commit, refused on a stale parent as any.
      spec
        .given([created, v1, first])
        .when(commit(1, { commitId: 'job-1.2.output.model' }))
        .thenThrows(FILESET_PARENT_MISMATCH);
    });

    it('commits on the latest version as the next one, with its labels sorted', () => {
      spec
        .given([created, v1, v2])
        .when(
          commit(2, {
            changes: { added: 3, replaced: 1, deleted: 2 },
            metadata: { accuracy: 0.98 },
            labels: ['prod', 'candidate', 'prod'],
            createdBy: trainingJob,
          }),
        )
        .then([
          committed(3, {
            changes: { added: 3, replaced: 1, deleted: 2 },
            metadata: { accuracy: 0.98 },
            labels: ['candidate', 'prod'],
            createdBy: trainingJob,
          }),
        ]);
    });

    it('refuses a commit on a stale parent, naming the latest version and saying nothing was lost', () => {
      spec.given([created, v1, v2]).when(commit(1)).thenThrows(FILESET_PARENT_MISMATCH);
      const error = refusal([created, v1, v2], commit(1)) as Error;

      expect(error.message).toContain("File set 'mnist' is at version 2, not 1");
      expect(error.message).toContain('Nothing was lost');
      expect(error.message).toContain('commit again with parent 2');
    });

    it('refuses a commit on a parent that does not exist yet', () => {
      spec.given([created, v1]).when(commit(5)).thenThrows(FILESET_PARENT_MISSING);
      expect(refusal([created, v1], commit(5))).toMatchObject({
        message: expect.stringContaining('Commit with parent 1.'),
      });
    });

    it('refuses a commit on a file set that does not exist', () => {
      spec.given([]).when(commit(0)).thenThrows(FILESET_NOT_FOUND);
    });

    it('refuses an invalid label or metadata over 64 KiB', () => {
      expect(refusal([created], commit(0, { labels: ['-prod'] }))).toMatchObject({
        reason: LABEL_INVALID.reason,
        details: [{ path: 'labels.0' }],
      });
      expect(
        refusal([created], commit(0, { metadata: metadataOfBytes(MAX_METADATA_BYTES + 1) })),
      ).toMatchObject({ reason: METADATA_TOO_LARGE.reason, details: [{ path: 'metadata' }] });
    });
  });

  describe('metadata', () => {
    const changed = (target: { version: number | null }, metadata: Metadata): NewEvent => ({
      type: 'fileset.metadata_changed',
      data: { target, metadata },
    });

    it('sets the metadata of the file set, replacing what was there', () => {
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'set', value: { owner: 'ana' } }))
        .then([changed(onFileset, { owner: 'ana' })]);
    });

    it('merges into the metadata of the file set, overwriting the keys it names', () => {
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'merge', value: { owner: 'ana', source: 'mirror' } }))
        .then([changed(onFileset, { source: 'mirror', owner: 'ana' })]);
    });

    it('removes keys from the metadata of the file set, ignoring absent ones', () => {
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'remove', keys: ['source', 'absent'] }))
        .then([changed(onFileset, {})]);
    });

    it('records nothing when the metadata would not change', () => {
      const { metadata } = createdData;
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'set', value: metadata }))
        .then([]);
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'merge', value: metadata }))
        .then([]);
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'merge', value: {} }))
        .then([]);
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'remove', keys: ['absent'] }))
        .then([]);
    });

    it('changes the metadata of one version, leaving the file set and other versions alone', () => {
      const v1WithAccuracy = committed(1, { metadata: { accuracy: 0.9 } });
      const events = [created, v1WithAccuracy, v2];
      const [event] = spec
        .given(events)
        .when(metadataOf({ version: 1 }, { op: 'merge', value: { loss: 0.1 } }))
        .then([changed({ version: 1 }, { accuracy: 0.9, loss: 0.1 })]);

      const after = spec.given([...events, event!]).state;
      expect(after.versions.map((v) => v.metadata)).toEqual([{ accuracy: 0.9, loss: 0.1 }, {}]);
      expect(after.metadata).toEqual(createdData.metadata);
    });

    it('records nothing when a version already has that metadata', () => {
      spec
        .given([created, committed(1, { metadata: { accuracy: 0.9 } })])
        .when(metadataOf({ version: 1 }, { op: 'merge', value: { accuracy: 0.9 } }))
        .then([]);
    });

    it('refuses metadata that would grow over 64 KiB, and accepts exactly 64 KiB', () => {
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'set', value: metadataOfBytes(MAX_METADATA_BYTES) }))
        .then([changed(onFileset, metadataOfBytes(MAX_METADATA_BYTES))]);
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'set', value: metadataOfBytes(MAX_METADATA_BYTES + 1) }))
        .thenThrows(METADATA_TOO_LARGE);
      spec
        .given([created, v1])
        .when(
          metadataOf(
            { version: 1 },
            { op: 'merge', value: { notes: 'x'.repeat(MAX_METADATA_BYTES) } },
          ),
        )
        .thenThrows(METADATA_TOO_LARGE);
    });

    it('counts the 64 KiB in bytes, not characters', () => {
      // 32 763 two-byte characters: about half the limit in characters, one byte over it in UTF-8.
      spec
        .given([created])
        .when(metadataOf(onFileset, { op: 'set', value: { blob: 'é'.repeat(32_763) } }))
        .thenThrows(METADATA_TOO_LARGE);
    });

    it('refuses a version that does not exist, naming the latest', () => {
      spec
        .given([created, v1])
        .when(metadataOf({ version: 3 }, { op: 'set', value: {} }))
        .thenThrows(VERSION_NOT_FOUND);
      expect(
        refusal([created, v1], metadataOf({ version: 3 }, { op: 'set', value: {} })),
      ).toMatchObject({ message: "File set 'mnist' has no version 3 (latest is 1)" });
    });

    it('records nothing when the same metadata is set with its keys in another order', () => {
      spec
        .given([created, committed(1, { metadata: { accuracy: 0.9, epochs: 10 } })])
        .when(metadataOf({ version: 1 }, { op: 'set', value: { epochs: 10, accuracy: 0.9 } }))
        .then([]);
    });
  });

  describe('labels', () => {
    const changed = (target: { version: number | null }, labels: string[]): NewEvent => ({
      type: 'fileset.labels_changed',
      data: { target, labels },
    });

    it('adds labels to the file set, sorted and deduplicated', () => {
      spec
        .given([created])
        .when(labelsOf(onFileset, ['train', 'digits', 'train', 'images']))
        .then([changed(onFileset, ['digits', 'images', 'train'])]);
    });

    it('removes labels from the file set', () => {
      spec
        .given([created])
        .when(labelsOf(onFileset, [], ['images']))
        .then([changed(onFileset, [])]);
    });

    it('adds and removes in one change', () => {
      spec
        .given([created, committed(1, { labels: ['candidate', 'nightly'] })])
        .when(labelsOf({ version: 1 }, ['prod'], ['candidate']))
        .then([changed({ version: 1 }, ['nightly', 'prod'])]);
    });

    it('records nothing when the labels would not change', () => {
      spec
        .given([created])
        .when(labelsOf(onFileset, ['images'], ['absent']))
        .then([]);
    });

    it('changes the labels of one version only', () => {
      const events = [created, v1, v2];
      const [event] = spec
        .given(events)
        .when(labelsOf({ version: 2 }, ['prod']))
        .then([changed({ version: 2 }, ['prod'])]);

      const after = spec.given([...events, event!]).state;
      expect(after.versions.map((v) => v.labels)).toEqual([[], ['prod']]);
      expect(after.labels).toEqual(['images']);
    });

    it.each([
      ['empty', ''],
      ['starting with -', '-prod'],
      ['with a space', 'prod ready'],
      ['with a comma', 'a,b'],
      ['of 64 characters', 'a'.repeat(64)],
    ])('refuses a label %s, naming which one', (_form, label) => {
      expect(refusal([created], labelsOf(onFileset, ['ok', label]))).toMatchObject({
        reason: LABEL_INVALID.reason,
        details: [{ path: 'add.1', message: 'not a valid label' }],
      });
    });

    it('accepts labels with . : = / - _ and up to 63 characters', () => {
      const labels = ['a'.repeat(63), 'env=prod', 'team/vision', 'v1.2', 'x:y', 'snake_case-kebab'];

      spec
        .given([created])
        .when(labelsOf(onFileset, labels, ['images']))
        .then([changed(onFileset, [...labels].sort())]);
    });

    it('refuses a version that does not exist', () => {
      spec
        .given([created, v1])
        .when(labelsOf({ version: 2 }, ['prod']))
        .thenThrows(VERSION_NOT_FOUND);
    });
  });

  describe('pin', () => {
    it('pins and unpins a version', () => {
      spec
        .given([created, v1])
        .when(pin(1))
        .then([pinned(1)]);
      spec
        .given([created, v1, pinned(1)])
        .when(pin(1, false))
        .then([pinned(1, false)]);
    });

    it('records nothing when the version is already so', () => {
      spec
        .given([created, v1, pinned(1)])
        .when(pin(1))
        .then([]);
      spec.given([created, v1]).when(pin(1, false)).then([]);
      spec
        .given([created, v1, pinned(1), pinned(1, false)])
        .when(pin(1, false))
        .then([]);
    });

    it('refuses a version that does not exist', () => {
      spec.given([created, v1]).when(pin(2)).thenThrows(VERSION_NOT_FOUND);
      spec.given([created, v1]).when(pin(0)).thenThrows(VERSION_NOT_FOUND);
    });
  });

  describe('evict', () => {
    it('evicts a version', () => {
      spec
        .given([created, v1, v2])
        .when(evict(1))
        .then([evicted(1)]);
    });

    it('refuses to evict a pinned version, saying to unpin it first', () => {
      spec
        .given([created, v1, pinned(1)])
        .when(evict(1))
        .thenThrows(VERSION_PINNED);
      expect(refusal([created, v1, pinned(1)], evict(1))).toMatchObject({
        message: 'Version 1 is pinned; pinned versions are never evicted. Unpin it first.',
      });
    });

    it('evicts a version once it is unpinned', () => {
      spec
        .given([created, v1, pinned(1), pinned(1, false)])
        .when(evict(1))
        .then([evicted(1)]);
    });

    it('records nothing for a version already evicted', () => {
      spec
        .given([created, v1, evicted(1)])
        .when(evict(1))
        .then([]);
    });

    it('refuses a version that does not exist', () => {
      spec.given([created, v1]).when(evict(2)).thenThrows(VERSION_NOT_FOUND);
    });

    it('keeps the manifest and lineage of an evicted version', () => {
      const { state } = spec.given([created, v1, v2, evicted(1)]);

      expect(state.versions[0]).toMatchObject({
        version: 1,
        parent: 0,
        manifest: manifest(1),
        evicted: true,
      });
      expect(state.versions[1]!.evicted).toBe(false);
    });
  });

  describe('a file set that does not exist', () => {
    it.each<[string, FilesetCommand]>([
      ['commit', commit(0)],
      ['change_metadata', metadataOf(onFileset, { op: 'set', value: { a: 1 } })],
      ['change_labels', labelsOf(onFileset, ['prod'])],
      ['pin', pin(1)],
      ['evict', evict(1)],
    ])('refuses %s as not found', (_kind, command) => {
      spec.given([]).when(command).thenThrows(FILESET_NOT_FOUND);
      expect(refusal([], command)).toMatchObject({
        message: 'No such file set in this project',
      });
    });
  });

  describe('state', () => {
    it('starts as no file set', () => {
      expect(filesetDecider.initialState()).toEqual({
        exists: false,
        name: null,
        metadata: {},
        labels: [],
        versions: [],
      });
      expect(latestVersion(filesetDecider.initialState())).toBe(0);
    });

    it('holds each version with what it was committed with', () => {
      const { state } = spec.given([
        created,
        v1,
        committed(2, { metadata: { a: 1 }, labels: ['prod'], createdBy: trainingJob }),
      ]);

      expect(latestVersion(state)).toBe(2);
      expect(state).toEqual({
        exists: true,
        name: 'mnist',
        metadata: { source: 'yann.lecun.com' },
        labels: ['images'],
        versions: [
          {
            version: 1,
            parent: 0,
            manifest: manifest(1),
            metadata: {},
            labels: [],
            pinned: false,
            evicted: false,
            createdBy: uploader,
          },
          {
            version: 2,
            parent: 1,
            manifest: manifest(2),
            metadata: { a: 1 },
            labels: ['prod'],
            pinned: false,
            evicted: false,
            createdBy: trainingJob,
          },
        ],
      });
    });

    it('never changes an earlier version or an earlier state when a later version is committed', () => {
      const before = deepFreeze(
        spec.given([created, committed(1, { metadata: { a: 1 }, labels: ['prod'] }), pinned(1)])
          .state,
      );
      const snapshot = structuredClone(before);

      // A frozen state makes any in-place change throw (ES modules run in strict mode).
      const after = [
        committed(2),
        pinned(2),
        evicted(2),
        { type: 'fileset.labels_changed', data: { target: { version: 2 }, labels: ['x'] } },
        { type: 'fileset.metadata_changed', data: { target: { version: 2 }, metadata: { b: 2 } } },
      ].reduce<FilesetState>((s, e) => filesetDecider.evolve(s, e as NewEvent), before);

      expect(before).toEqual(snapshot);
      expect(after.versions[0]).toEqual(snapshot.versions[0]);
      expect(after.versions[1]).toMatchObject({
        version: 2,
        pinned: true,
        evicted: true,
        labels: ['x'],
        metadata: { b: 2 },
      });
    });
  });
});

describe('resolveVersion', () => {
  const labelled: NewEvent[] = [
    created,
    committed(1, { labels: ['prod'] }),
    committed(2, { labels: ['candidate', 'prod'] }),
    committed(3),
  ];
  const { state } = spec.given(labelled);

  it('finds a version by number, given as a number or as digits', () => {
    expect(resolveVersion(state, 2).version).toBe(2);
    expect(resolveVersion(state, '2').version).toBe(2);
    expect(resolveVersion(state, '1').manifest).toEqual(manifest(1));
  });

  it('finds the latest version', () => {
    expect(resolveVersion(state, 'latest').version).toBe(3);
  });

  it('finds the newest version carrying a label', () => {
    expect(resolveVersion(state, 'prod').version).toBe(2);
    expect(resolveVersion(state, 'candidate').version).toBe(2);
  });

  it('follows a label when it is moved off the newest version', () => {
    const moved = spec.given([
      ...labelled,
      { type: 'fileset.labels_changed', data: { target: { version: 2 }, labels: ['candidate'] } },
    ]).state;

    expect(resolveVersion(moved, 'prod').version).toBe(1);
  });

  it.each<[string | number, string, Problem]>([
    [4, "File set 'mnist' has no version 4 (latest is 3)", VERSION_NOT_FOUND],
    ['4', "File set 'mnist' has no version 4 (latest is 3)", VERSION_NOT_FOUND],
    [0, "File set 'mnist' has no version 0 (latest is 3)", VERSION_NOT_FOUND],
    ['staging', "File set 'mnist' has no version labelled 'staging'", VERSION_LABEL_NOT_FOUND],
  ])('does not find %j', (ref, message, problem) => {
    expect(() => resolveVersion(state, ref)).toThrow(message);
    expect(() => resolveVersion(state, ref)).toThrow(
      expect.objectContaining({ code: problem.code, reason: problem.reason }),
    );
  });

  it('finds no latest version before the first commit', () => {
    const empty = spec.given([created]).state;

    expect(() => resolveVersion(empty, 'latest')).toThrow("File set 'mnist' has no version yet");
    expect(() => resolveVersion(empty, 'latest')).toThrow(
      expect.objectContaining({ reason: FILESET_EMPTY.reason }),
    );
    expect(() => resolveVersion(empty, 1)).toThrow(
      "File set 'mnist' has no version 1 (latest is 0)",
    );
  });

  it('finds a version by a label made only of digits, or refuses such a label', () => {
    const add = labelsOf({ version: 1 }, ['2024']);
    let accepted: NewEvent[];
    try {
      accepted = filesetDecider.decide(add, state);
    } catch (error) {
      expect(error).toMatchObject({ reason: LABEL_INVALID.reason });
      return;
    }
    const after = accepted.reduce(filesetDecider.evolve, state);

    expect(resolveVersion(after, '2024').version).toBe(1);
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
