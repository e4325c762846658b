/**
 * Every problem acai declares, by module. Reasons are unique across modules; `declaredProblems()`
 * lists them all once this file is loaded (docs/errors.md and the OpenAPI document come from it).
 */
export { CommonProblems } from './common.js';
export { AuthProblems } from './auth.js';
export { RunProblems } from './runs.js';
export { FilesetProblems } from './filesets.js';
export { BlobProblems } from './blobs.js';
export { ProvisioningProblems } from './provisioning.js';
export { SecretProblems } from './secrets.js';
export { OperationsProblems } from './operations.js';
export { LineageProblems } from './lineage.js';
export { EventProblems } from './events.js';
