import type { ProvisionSpec, StagedInput } from '@acai/contracts';
import { numericFeatures, profileSignature } from './profiling.js';

/** What identifies a job for its runtime model, and the size features that vary between runs. */
export interface JobProfile {
  readonly signature: string;
  /** The size parameters' values, e.g. `{ EPOCHS: 5 }`; the configuration's `cpu` is added per offer. */
  readonly size: Record<string, number>;
  readonly sizeParameters: readonly string[];
}

/** The variables that set a job's size: those named, and those its profiling runs vary. */
export function sizeParametersOf(provision: ProvisionSpec): string[] {
  return [
    ...new Set([...(provision.sizeParameters ?? []), ...Object.keys(provision.profile ?? {})]),
  ].sort();
}

/**
 * The job's profile: the same command on the same input versions with the same other parameters
 * shares one runtime model (ACAI reuses a profile when input version and code match), whatever its
 * size parameters say. Throws a ValidationFailed error for a size parameter that is not a number.
 */
export function jobProfile(job: {
  command: readonly string[];
  env: Readonly<Record<string, string>>;
  inputs: readonly (Pick<StagedInput, 'fileset' | 'version'> & { manifestSha256?: string })[];
  provision: ProvisionSpec;
}): JobProfile {
  const sizeParameters = sizeParametersOf(job.provision);
  return {
    signature: profileSignature({
      command: job.command,
      env: job.env,
      // By content: a step re-run on the same data makes a new version with the same manifest.
      inputs: job.inputs.map((i) => ({
        fileset: i.fileset,
        version: i.manifestSha256 ?? i.version,
      })),
      sizeParameters,
    }),
    size: numericFeatures(job.env, sizeParameters),
    sizeParameters,
  };
}
