import type { FilesetView, VersionView } from '@acai/contracts';
import type { FilesetState, VersionState } from '@acai/filesets';

export function versionView(name: string, v: VersionState): VersionView {
  return {
    fileset: name,
    version: v.version,
    parent: v.parent,
    files: v.manifest.files,
    bytes: v.manifest.bytes,
    manifestSha256: v.manifest.sha256,
    metadata: v.metadata,
    labels: [...v.labels],
    pinned: v.pinned,
    evicted: v.evicted,
    createdBy: v.createdBy,
  };
}

export function filesetView(state: FilesetState): FilesetView {
  const name = state.name ?? '';
  return {
    name,
    metadata: state.metadata,
    labels: [...state.labels],
    latestVersion: state.versions.length,
    versions: state.versions.map((v) => versionView(name, v)),
  };
}
