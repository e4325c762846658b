import type { DeclaredOutput, RunSpec, StagedInput, StepSpec } from '@acai/contracts';
import type { JobProfile } from './job-profile.js';
import { offerKey, type Offer } from './offers.js';
import type { JobToPlace } from './placement.js';

/**
 * The profiling run of a job: the same command on the same input versions, made short by the
 * step's `profile` values (e.g. EPOCHS=1), pinned in turn to each configuration of the grid; each
 * further value of a size parameter runs once more on the largest one, so the model sees the size
 * vary too. The steps run one after another, so they do not slow each other down, and their
 * outputs are scratch folders: nothing is saved. Every run teaches the profile's runtime model.
 */
export function profilingRunSpec(
  jobName: string,
  job: Omit<JobToPlace, 'inputs'> & {
    readonly inputs: readonly StagedInput[];
    readonly outputs: readonly DeclaredOutput[];
    readonly timeoutSeconds: number | null;
  },
  profile: JobProfile,
  grid: readonly Offer[],
): RunSpec {
  const values = job.provision.profile ?? {};
  const first = Object.fromEntries(
    Object.entries(values).flatMap(([name, list]) =>
      list[0] === undefined ? [] : [[name, list[0]]],
    ),
  );
  const configurations: { offer: Offer; env: Record<string, string> }[] = grid.map((offer) => ({
    offer,
    env: first,
  }));
  const largest = grid.at(-1);
  if (largest !== undefined) {
    for (const [name, list] of Object.entries(values)) {
      for (const value of list.slice(1)) {
        configurations.push({ offer: largest, env: { ...first, [name]: value } });
      }
    }
  }
  const steps = configurations.map(({ offer, env }, i): StepSpec => {
    const step: StepSpec = {
      name: `profile-${i + 1}`,
      command: [...job.command],
      env: { ...job.env, ...env },
      resources: { cpu: offer.vCpu, memoryMb: offer.memoryMb },
      inputs: job.inputs.map((input) => ({
        fileset: input.fileset,
        version: input.version,
        path: input.path,
      })),
      outputs: job.outputs.map((output) => ({
        fileset: output.fileset,
        path: output.path,
        save: false,
      })),
      provision: {
        offer: offerKey(offer),
        providers: [offer.provider],
        sizeParameters: [...profile.sizeParameters],
      },
      ...(i > 0 ? { needs: [`profile-${i}`] } : {}),
    };
    return job.timeoutSeconds === null ? step : { ...step, timeoutSeconds: job.timeoutSeconds };
  });
  return { name: `profile-${jobName}`.slice(0, 63), steps };
}
