import { isDeepStrictEqual } from 'node:util';
import {
  AcaiError,
  assertUnreachable,
  FilesetProblems,
  LABEL,
  type Creator,
  type MaterializationDecision,
  type ManifestRef,
  type Metadata,
  type Decider,
  type NewEvent,
} from '@acai/contracts';

export interface VersionState {
  readonly version: number;
  readonly parent: number;
  readonly manifest: ManifestRef;
  readonly metadata: Metadata;
  readonly labels: readonly string[];
  readonly pinned: boolean;
  readonly evicted: boolean;
  readonly createdBy: Creator;
  /** The idempotency key of the commit that made it, when it had one. */
  readonly commitId?: string;
}

export interface FilesetState {
  readonly exists: boolean;
  readonly name: string | null;
  readonly metadata: Metadata;
  readonly labels: readonly string[];
  /** versions[i] is version i + 1. */
  readonly versions: readonly VersionState[];
}

export type Target = { version: number | null };

export type MetadataOp =
  | { op: 'set'; value: Metadata }
  | { op: 'merge'; value: Metadata }
  | { op: 'remove'; keys: readonly string[] };

export type FilesetCommand =
  | {
      kind: 'create';
      name: string;
      metadata: Metadata;
      labels: readonly string[];
      createdBy: Creator;
    }
  | {
      kind: 'commit';
      parent: number;
      manifest: ManifestRef;
      changes: { added: number; replaced: number; deleted: number };
      metadata: Metadata;
      labels: readonly string[];
      createdBy: Creator;
      /** Idempotency key: a version made by a commit with this key already is the answer. */
      commitId?: string;
    }
  | { kind: 'change_metadata'; target: Target; change: MetadataOp }
  | { kind: 'change_labels'; target: Target; add: readonly string[]; remove: readonly string[] }
  | { kind: 'pin'; version: number; pinned: boolean }
  | {
      kind: 'evict';
      version: number;
      reason: string;
      /** The materializer's reasons (absent: a person evicted it). */
      decision?: MaterializationDecision;
    };

export const MAX_METADATA_BYTES = 64 * 1024;

/** The version a commit with idempotency key `commitId` made, if one did. */
export function committedAs(state: FilesetState, commitId: string): VersionState | undefined {
  return state.versions.find((v) => v.commitId === commitId);
}

export function latestVersion(state: FilesetState): number {
  return state.versions.length;
}

export function checkLabels(labels: readonly string[], field: string): string[] {
  labels.forEach((label, i) => {
    if (!LABEL.test(label)) {
      throw new AcaiError(
        FilesetProblems.LABEL_INVALID,
        `Invalid label '${label}': use 1-63 letters, digits and _ . : = / -, starting with a letter or digit (not only digits, and not 'latest')`,
        [{ path: `${field}.${i}`, message: 'not a valid label' }],
      );
    }
  });
  return [...new Set(labels)].sort();
}

export function checkMetadata(metadata: Metadata, field: string): Metadata {
  if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
    throw new AcaiError(
      FilesetProblems.METADATA_TOO_LARGE,
      `Metadata is larger than ${MAX_METADATA_BYTES} bytes`,
      [{ path: field, message: 'too large' }],
    );
  }
  return metadata;
}

function versionOf(state: FilesetState, version: number): VersionState {
  const v = state.versions[version - 1];
  if (v === undefined) {
    throw new AcaiError(
      FilesetProblems.VERSION_NOT_FOUND,
      `File set '${state.name ?? ''}' has no version ${version} (latest is ${latestVersion(state)})`,
    );
  }
  return v;
}

function targetOf(
  state: FilesetState,
  target: Target,
): { metadata: Metadata; labels: readonly string[] } {
  return target.version === null ? state : versionOf(state, target.version);
}

function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** File sets: created once by name, then versions 1, 2, 3... each on top of the latest. Pure. */
export const filesetDecider: Decider<FilesetState, FilesetCommand> = {
  creationEvents: new Set(['fileset.created']),

  initialState: (): FilesetState => ({
    exists: false,
    name: null,
    metadata: {},
    labels: [],
    versions: [],
  }),

  decide(command: FilesetCommand, state: FilesetState): NewEvent[] {
    if (command.kind === 'create') {
      if (state.exists)
        throw new AcaiError(
          FilesetProblems.FILESET_EXISTS,
          `File set '${command.name}' exists already in this project`,
        );
      return [
        {
          type: 'fileset.created',
          data: {
            name: command.name,
            metadata: checkMetadata(command.metadata, 'metadata'),
            labels: checkLabels(command.labels, 'labels'),
            createdBy: command.createdBy,
          },
        },
      ];
    }
    if (!state.exists) {
      throw new AcaiError(FilesetProblems.FILESET_NOT_FOUND, 'No such file set in this project');
    }
    switch (command.kind) {
      case 'commit': {
        // The same commit again (its answer was lost): it is done already.
        if (command.commitId !== undefined && committedAs(state, command.commitId) !== undefined) {
          return [];
        }
        const latest = latestVersion(state);
        if (command.parent > latest) {
          throw new AcaiError(
            FilesetProblems.FILESET_PARENT_MISSING,
            `File set '${state.name ?? ''}' is at version ${latest}; there is no version ${command.parent} to commit on. Commit with parent ${latest}.`,
          );
        }
        if (command.parent !== latest) {
          throw new AcaiError(
            FilesetProblems.FILESET_PARENT_MISMATCH,
            `File set '${state.name ?? ''}' is at version ${latest}, not ${command.parent}: another commit came first. ` +
              `Nothing was lost (uploaded files stay); commit again with parent ${latest}.`,
          );
        }
        return [
          {
            type: 'fileset.version_committed',
            data: {
              version: latest + 1,
              parent: latest,
              manifest: command.manifest,
              changes: command.changes,
              metadata: checkMetadata(command.metadata, 'metadata'),
              labels: checkLabels(command.labels, 'labels'),
              createdBy: command.createdBy,
              ...(command.commitId === undefined ? {} : { commitId: command.commitId }),
            },
          },
        ];
      }
      case 'change_metadata': {
        const current = targetOf(state, command.target).metadata;
        const change = command.change;
        const next: Metadata =
          change.op === 'set'
            ? change.value
            : change.op === 'merge'
              ? { ...current, ...change.value }
              : Object.fromEntries(
                  Object.entries(current).filter(([k]) => !change.keys.includes(k)),
                );
        if (sameJson(current, next)) return [];
        return [
          {
            type: 'fileset.metadata_changed',
            data: { target: command.target, metadata: checkMetadata(next, 'metadata') },
          },
        ];
      }
      case 'change_labels': {
        const current = targetOf(state, command.target).labels;
        const add = checkLabels(command.add, 'add');
        const next = [...new Set([...current, ...add])]
          .filter((l) => !command.remove.includes(l))
          .sort();
        if (sameJson(current, next)) return [];
        return [{ type: 'fileset.labels_changed', data: { target: command.target, labels: next } }];
      }
      case 'pin': {
        const v = versionOf(state, command.version);
        return v.pinned === command.pinned
          ? []
          : [
              {
                type: 'fileset.version_pinned',
                data: { version: command.version, pinned: command.pinned },
              },
            ];
      }
      case 'evict': {
        const v = versionOf(state, command.version);
        if (v.pinned) {
          throw new AcaiError(
            FilesetProblems.VERSION_PINNED,
            `Version ${command.version} is pinned; pinned versions are never evicted. Unpin it first.`,
          );
        }
        return v.evicted
          ? []
          : [
              {
                type: 'fileset.version_evicted',
                data: {
                  version: command.version,
                  reason: command.reason,
                  ...(command.decision === undefined ? {} : { decision: command.decision }),
                },
              },
            ];
      }
      default:
        return assertUnreachable(command, 'file set command');
    }
  },

  evolve(state: FilesetState, event: NewEvent): FilesetState {
    const updateVersion = (
      version: number,
      change: (v: VersionState) => VersionState,
    ): FilesetState => ({
      ...state,
      versions: state.versions.map((v) => (v.version === version ? change(v) : v)),
    });
    switch (event.type) {
      case 'fileset.created':
        return {
          exists: true,
          name: event.data.name,
          metadata: event.data.metadata,
          labels: event.data.labels,
          versions: [],
        };
      case 'fileset.version_committed':
        return {
          ...state,
          versions: [
            ...state.versions,
            {
              version: event.data.version,
              parent: event.data.parent,
              manifest: event.data.manifest,
              metadata: event.data.metadata,
              labels: event.data.labels,
              pinned: false,
              evicted: false,
              createdBy: event.data.createdBy,
              ...(event.data.commitId === undefined ? {} : { commitId: event.data.commitId }),
            },
          ],
        };
      case 'fileset.metadata_changed': {
        const { version } = event.data.target;
        const metadata = event.data.metadata;
        return version === null
          ? { ...state, metadata }
          : updateVersion(version, (v) => ({ ...v, metadata }));
      }
      case 'fileset.labels_changed': {
        const { version } = event.data.target;
        const labels = event.data.labels;
        return version === null
          ? { ...state, labels }
          : updateVersion(version, (v) => ({ ...v, labels }));
      }
      case 'fileset.version_pinned':
        return updateVersion(event.data.version, (v) => ({ ...v, pinned: event.data.pinned }));
      case 'fileset.version_evicted':
        return updateVersion(event.data.version, (v) => ({ ...v, evicted: true }));
      default:
        return state;
    }
  },
};

/** A version by number, `latest`, or the newest version carrying a label (e.g. `prod`). */
export function resolveVersion(state: FilesetState, ref: string | number): VersionState {
  if (typeof ref === 'number' || /^\d+$/.test(ref)) return versionOf(state, Number(ref));
  if (ref === 'latest') {
    const latest = state.versions.at(-1);
    if (latest === undefined) {
      throw new AcaiError(
        FilesetProblems.FILESET_EMPTY,
        `File set '${state.name ?? ''}' has no version yet: commit one (parent 0) first`,
      );
    }
    return latest;
  }
  const labelled = [...state.versions].reverse().find((v) => v.labels.includes(ref));
  if (labelled === undefined) {
    throw new AcaiError(
      FilesetProblems.VERSION_LABEL_NOT_FOUND,
      `File set '${state.name ?? ''}' has no version labelled '${ref}'`,
    );
  }
  return labelled;
}
