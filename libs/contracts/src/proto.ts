import { fileURLToPath } from 'node:url';

/**
 * Where the gRPC API's .proto files are: `proto/` of this package, beside `src/` and `dist/` (so the
 * same path serves the sources and the build). Import paths inside them start at this folder
 * (`acai/v1/runs.proto`); they import only Google's well-known types, which protobuf.js has.
 */
export const PROTO_ROOT = fileURLToPath(new URL('../proto/', import.meta.url));

/** The API's files, relative to {@link PROTO_ROOT}; package `acai.v1`. */
export const PROTO_FILES = [
  'acai/v1/filesets.proto',
  'acai/v1/runs.proto',
  'acai/v1/resources.proto',
] as const;

/** The fully qualified name of each service, as reflection and health checking name them. */
export const GRPC_SERVICES = [
  'acai.v1.Filesets',
  'acai.v1.Runs',
  'acai.v1.Jobs',
  'acai.v1.Lineage',
  'acai.v1.Resources',
] as const;
