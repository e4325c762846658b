import type {
  ReusableResult,
  ReuseLookupStep,
  ReuseStepLookup,
  StagedInput,
} from '@acai/contracts';
import { signJob } from './signature.js';

/** Where `lookUpSteps` finds earlier results and the content of the versions they committed. */
export interface StepLookupSource {
  /** The newest earlier results with the signature, newest first (`findReusable`'s answer). */
  results(signature: string, excludeJobId: string): readonly ReusableResult[];
  /**
   * The manifest hash of a version committed by a result: of `project` (a result of a project
   * that shares its own) or of the asking one (undefined); undefined when not known.
   */
  manifestOf(project: string | undefined, fileset: string, version: number): string | undefined;
}

/**
 * A run's steps looked up in one pass (`findReusableSteps`): each step, in the order given (each
 * after the steps it reads), is signed once every step it reads has an earlier result, with the
 * outputs of the newest one as its inputs (by content), and looked up; what the scheduler's plan at
 * submit does a level at a time (`lookupLevels`, `mayLookUp`), where it takes the same newest
 * result whenever it is intact. Pure: the source answers from memory.
 */
export function lookUpSteps(
  steps: readonly ReuseLookupStep[],
  source: StepLookupSource,
): ReuseStepLookup[] {
  const answers = new Map<string, ReuseStepLookup>();
  const out: ReuseStepLookup[] = [];
  for (const step of steps) {
    const answer = lookUpStep(step, answers, source);
    answers.set(step.id, answer);
    out.push(answer);
  }
  return out;
}

function lookUpStep(
  step: ReuseLookupStep,
  answers: ReadonlyMap<string, ReuseStepLookup>,
  source: StepLookupSource,
): ReuseStepLookup {
  const newest = (id: string): ReusableResult | undefined => {
    const answer = answers.get(id);
    return answer?.kind === 'looked_up' ? answer.results[0] : undefined;
  };
  const reads = [...new Set(step.inputs.flatMap((i) => ('fromStep' in i ? [i.fromStep] : [])))];
  const unknown = reads.map((r) => answers.get(r)).find((a) => a?.kind === 'unknown');
  if (unknown !== undefined) return unknown;
  if (!reads.every((r) => newest(r) !== undefined)) return { kind: 'not_looked_up' };
  const inputs: StagedInput[] = [];
  for (const input of step.inputs) {
    if (!('fromStep' in input)) {
      inputs.push(input);
      continue;
    }
    const result = newest(input.fromStep)!;
    const version = result.outputs.find((o) => o.fileset === input.fileset)?.version;
    if (version === undefined) return { kind: 'no_input', fileset: input.fileset };
    const manifestSha256 = source.manifestOf(result.project, input.fileset, version);
    if (manifestSha256 === undefined) {
      return {
        kind: 'unknown',
        reason: `the content of ${input.fileset}@${version} (committed by job ${result.jobId}) is not known to provenance`,
      };
    }
    inputs.push({ fileset: input.fileset, version, manifestSha256, path: input.path });
  }
  const signature = signJob({ ...step, inputs }).sha256;
  return {
    kind: 'looked_up',
    signature,
    results: [...source.results(signature, step.excludeJobId)],
  };
}
