export {
  applyChanges,
  diffManifests,
  type Manifest,
  manifestBytes,
  mediaTypeOf,
  parseManifest,
  serializeManifest,
} from './manifest.js';
export {
  committedAs,
  type FilesetCommand,
  filesetDecider,
  type FilesetState,
  resolveVersion,
  type VersionState,
} from './fileset.decider.js';
export { type MetaPredicate, nest, numericLeaves, parseSearch, type Search } from './search.js';
