import { fileURLToPath } from 'node:url';

/**
 * Where the gRPC API's .proto files are: `proto/` of this package, beside `src/` and `dist/` (so the
 * same path serves the sources and the build). Import paths inside them start at this folder
 * (`acai/v1/runs.proto`); they import only Google's well-known types, which protobuf.js has.
 */
export const PROTO_ROOT = fileURLToPath(new URL('../proto/', import.meta.url));

/**
 * How the server and its clients load the files (`@grpc/proto-loader` options): field names as
 * written, 64-bit numbers as numbers, enums as their names, and a field not sent left absent (not
 * '' or 0), so that one left out is told from one set; a list or map with nothing in it is empty
 * (`[]`, `{}`), not absent. A oneof is not named beside its field
 * (`oneofs: false`): protobuf.js would add one such name for each `optional` field of an answer
 * (`_exit_code: 'exit_code'`), noise a client has no use for.
 */
export const PROTO_LOAD_OPTIONS = {
  includeDirs: [PROTO_ROOT],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: false,
  arrays: true,
  objects: true,
};

/** The API's files, relative to {@link PROTO_ROOT}; package `acai.v1`. */
export const PROTO_FILES = [
  'acai/v1/types.proto',
  'acai/v1/filesets.proto',
  'acai/v1/runs.proto',
  'acai/v1/resources.proto',
  'acai/v1/projects.proto',
] as const;

/** The fully qualified name of each service, as reflection and health checking name them. */
export const GRPC_SERVICES = [
  'acai.v1.Filesets',
  'acai.v1.Runs',
  'acai.v1.Jobs',
  'acai.v1.Lineage',
  'acai.v1.Resources',
  'acai.v1.Projects',
] as const;
