import {
  AcaiError,
  type EventData,
  type HashedCode,
  type JobSignature,
  type PlannedJob,
  type ReusableResult,
  type ReuseLookupStep,
  type ReusePlannedStep,
  type ReuseStepLookup,
  type ReusePolicy,
  type RunReusePlan,
  type StagedInput,
} from '@acai/contracts';
import type { CommandSender, EventingLogger } from '@acai/eventing';
import {
  lookupLevels,
  mayLookUp,
  planReuse,
  type ReuseFinding,
  type ReusePlanStep,
  signJob,
  whyNotReusable,
} from '@acai/runs';
import type { CodeHasher } from './code-hasher.js';

/** Earlier results with the signature looked at, newest first, for one that is intact. */
const CANDIDATES = 5;

const NO_INPUT = 'an earlier result of a step it reads committed none of the file sets it reads';

/** What the plan at submit found, and what it signs steps with. */
interface Looked {
  readonly findings: Map<string, ReuseFinding>;
  readonly results: Map<string, ReusableResult>;
  readonly signed: ReadonlyMap<string, { job: PlannedJob; code: HashedCode[] }>;
  /** A version of `fileset` in `owner` (default: the run's project), from the catalog. */
  readonly versionOf: (
    fileset: string,
    version: number | string,
    owner?: string,
  ) => Promise<{ version: number; manifestSha256: string }>;
}

/** An earlier result to take, or why there is none (and the newest found, if one was). */
type Lookup =
  | { readonly kind: 'found'; readonly result: ReusableResult }
  | { readonly kind: 'none'; readonly reason: string; readonly newest?: ReusableResult };

/** What to do with a ready job: take an earlier result, or queue it (saying why not reused). */
export type ReuseDecision =
  | { readonly kind: 'reuse'; readonly data: EventData<'job.reused'> }
  | {
      readonly kind: 'compute';
      readonly signature: JobSignature;
      readonly reuse: { readonly policy: ReusePolicy; readonly reason: string };
    };

/**
 * Decides, when a job is ready and its inputs are pinned to exact versions, whether an earlier
 * job of the same project already computed it: its signature (code hashed now, inputs by content)
 * is looked up among the project's results (provenance's `job-signatures`), and the result found is
 * taken only when every version it committed is still intact in the catalog. Each step is decided
 * once, when it is ready, so a run's steps are decided in one pass in dependency order: a reused
 * step's versions are its dependants' inputs, so they are reused in turn when nothing else changed.
 *
 * Reuse crosses projects only where a project shares its results with the run's project (its own
 * results come first): such a result's versions are copied into the run's project before they are
 * taken. Anything that cannot be asked (provenance or the catalog down) means computing, with the
 * reason: a result is never reused on a guess.
 */
export class ReusePlanner {
  constructor(
    private readonly commands: CommandSender,
    private readonly code: CodeHasher,
    private readonly logger: EventingLogger,
    private readonly jobPath: string,
  ) {}

  /**
   * @param afterSeq the log position of the event that made the job ready: provenance answers once
   *   it has applied it (so results committed before it are found), at once when it has
   */
  async decide(
    project: string,
    runId: string,
    job: PlannedJob,
    inputs: readonly StagedInput[],
    afterSeq?: number,
  ): Promise<ReuseDecision> {
    const policy = job.reuse?.policy ?? 'auto';
    const signature = signJob({
      command: job.command,
      env: job.env,
      secrets: job.secrets,
      inputs,
      outputs: job.outputs,
      code: await this.hashCode(project, job),
    });
    const compute = (reason: string): ReuseDecision => ({
      kind: 'compute',
      signature,
      reuse: { policy, reason },
    });
    const why =
      job.trial != null && policy !== 'never'
        ? "it is a sweep trial: its sweep's best trial is chosen from its own metrics"
        : whyNotReusable(policy, job.reuse?.nondeterministic ?? false, signature, job.outputs);
    if (why !== null) return compute(why);
    let lookup: Lookup;
    try {
      lookup = await this.newestIntact(project, job, signature.sha256, afterSeq);
    } catch (error) {
      this.logger.warn(
        { jobId: job.id, err: (error as Error).message },
        'earlier results could not be looked up; the job is computed',
      );
      return compute(
        `earlier results could not be looked up (${(error as Error).message}), so it is computed`,
      );
    }
    if (lookup.kind === 'none') return compute(lookup.reason);
    const result = lookup.result;
    const declared = result.outputs.filter((o) => job.outputs.some((d) => d.fileset === o.fileset));
    let outputs = declared;
    if (result.project !== undefined) {
      // Another project's result (it shares its results with this one): this run reads versions
      // of its own project, so the versions are copied first (no bytes copied).
      try {
        outputs = await this.copy(project, runId, job, result.project, declared);
      } catch (error) {
        return compute(
          `job ${result.jobId} of project '${result.project}' (which shares its results) had the same signature, but its outputs could not be copied into this project (${(error as Error).message}), so it is computed`,
        );
      }
    }
    const seconds = result.durationMs === null ? null : result.durationMs / 1000;
    const from = result.project === undefined ? '' : ` of project '${result.project}'`;
    return {
      kind: 'reuse',
      data: {
        runId,
        name: job.name,
        command: [...job.command],
        env: { ...job.env },
        inputs: [...inputs],
        outputs,
        signature,
        from: {
          jobId: result.jobId,
          runId: result.runId,
          savedSeconds: seconds,
          savedCost:
            seconds === null || result.pricePerHour === null
              ? null
              : (result.pricePerHour * seconds) / 3600,
        },
        reason: `job ${result.jobId} (step '${result.name}' of run ${result.runId}${from}) had the same signature, and its outputs ${declared.map((o) => `${o.fileset}@${o.version}`).join(', ')} are intact${from === '' ? '' : `; copied into this project as ${outputs.map((o) => `${o.fileset}@${o.version}`).join(', ')}`}`,
        ...(job.trial == null ? {} : { trial: job.trial }),
      },
    };
  }

  /** Copies another project's versions into `project`, as versions made by the job that reuses them. */
  private async copy(
    project: string,
    runId: string,
    job: PlannedJob,
    from: string,
    versions: readonly { fileset: string; version: number }[],
  ): Promise<{ fileset: string; version: number }[]> {
    const copied: { fileset: string; version: number }[] = [];
    for (const v of versions) {
      const made = await this.commands.send('adoptVersion', {
        project,
        name: v.fileset,
        from: { project: from, version: v.version },
        createdBy: {
          kind: 'job',
          jobId: job.id,
          runId,
          step: job.name,
          parameters: { ...job.env },
          code: null,
        },
        commitId: `reuse:${job.id}:${v.fileset}`,
      });
      copied.push({ fileset: v.fileset, version: made.version });
    }
    return copied;
  }

  /**
   * What reuse would do with each step of a run not yet submitted (`POST /api/v1/runs/plan`): the
   * code of each step hashed (once for steps naming the same), its inputs by content (a file-set
   * version from the catalog; another step's output: the version its earlier result committed),
   * each step's signature looked up once every step it reads has an earlier result (the steps of
   * one level of the DAG in one `findReusableMany`), those found checked intact, then `planReuse`'s forward and backward passes. A swept step is one step, never
   * reused. Anything that cannot be asked throws: the caller leaves reuse out of the plan.
   */
  async planRun(project: string, jobs: readonly PlannedJob[]): Promise<RunReusePlan> {
    const planned = await this.planSteps(project, jobs);
    const counts = { reuse: 0, compute: 0, not_needed: 0, when_ready: 0 };
    for (const s of planned) counts[s.decision] += 1;
    return {
      steps: planned.map((s) => ({
        step: s.name,
        decision: s.decision,
        reason: s.reason,
        from: s.from,
      })),
      counts,
    };
  }

  /**
   * The plan of `planRun`, one entry per step (a swept step's is its first trial's), with the job
   * it is for and the versions of the earlier result found for it: what a run records at submit
   * and follows (`reusePlan` of `run.submitted`). A step of a run left out by the plan has its readers signed
   * with those versions, so that `foreign` says whether one of them is another project's (which
   * the run's project cannot read as they are). Throws when anything cannot be asked.
   */
  async planSteps(
    project: string,
    jobs: readonly PlannedJob[],
  ): Promise<(ReusePlannedStep & { readonly foreign: boolean })[]> {
    const stepOf = (job: PlannedJob) => job.trial?.step ?? job.name;
    const first = new Map<string, PlannedJob>();
    for (const job of jobs) if (!first.has(stepOf(job))) first.set(stepOf(job), job);
    const codes = new Map<string, Promise<HashedCode[]>>();
    const versions = new Map<string, Promise<{ version: number; manifestSha256: string }>>();
    const versionOf = (fileset: string, version: number | string, owner = project) => {
      const key = JSON.stringify([owner, fileset, version]);
      let known = versions.get(key);
      if (known === undefined) {
        known = this.commands.send('getVersion', { project: owner, name: fileset, version });
        versions.set(key, known);
      }
      return known;
    };
    const steps: ReusePlanStep[] = [];
    const signed = new Map<string, { job: PlannedJob; code: HashedCode[] }>();
    for (const [name, job] of first) {
      const key = JSON.stringify([job.command, job.reuse?.code ?? [], job.env['PATH'] ?? null]);
      let code = codes.get(key);
      if (code === undefined) {
        code = this.hashCode(project, job);
        codes.set(key, code);
      }
      const hashed = await code;
      signed.set(name, { job, code: hashed });
      const policy = job.reuse?.policy ?? 'auto';
      const reads = [...new Set(job.inputs.flatMap((i) => ('fromStep' in i ? [i.fromStep] : [])))];
      steps.push({
        id: name,
        name,
        needs: job.needs,
        reads,
        policy,
        notReusable:
          job.trial != null && policy !== 'never'
            ? "it is a sweep: its best trial is chosen from its trials' own metrics"
            : whyNotReusable(
                policy,
                job.reuse?.nondeterministic ?? false,
                signJob({ ...job, inputs: [], code: hashed }),
                job.outputs,
              ),
      });
    }
    const findings = new Map<string, ReuseFinding>();
    const results = new Map<string, ReusableResult>();
    const looked = { findings, results, signed, versionOf };
    if (!(await this.lookUpAtOnce(project, steps, looked))) {
      findings.clear();
      results.clear();
      await this.lookUpByLevel(project, steps, looked);
    }
    const plan = planReuse(steps, findings);
    return plan.steps.map((s) => {
      const job = first.get(s.id)!;
      const result = results.get(s.id);
      return {
        jobId: job.id,
        name: s.name,
        decision: s.kind,
        reason: s.reason,
        from: s.from,
        outputs: (result?.outputs ?? [])
          .filter((o) => job.outputs.some((d) => d.fileset === o.fileset))
          .map((o) => ({ fileset: o.fileset, version: o.version })),
        foreign: result?.project !== undefined,
      };
    });
  }

  /**
   * The lookups of the plan at submit a level of the DAG at a time: each level's steps signed here
   * (the versions they read from the catalog), then looked up in one `findReusableMany`.
   */
  private async lookUpByLevel(
    project: string,
    steps: readonly ReusePlanStep[],
    { findings, results, signed, versionOf }: Looked,
  ): Promise<void> {
    const byName = new Map(steps.map((s) => [s.id, s]));
    for (const level of lookupLevels(steps)) {
      // Each level's signatures first, then all of its lookups in one round trip.
      const asked: { step: ReusePlanStep; job: PlannedJob; signature: string }[] = [];
      for (const step of level.map((id) => byName.get(id)!)) {
        if (!mayLookUp(step, findings)) continue;
        const { job, code } = signed.get(step.id)!;
        const inputs: StagedInput[] = [];
        for (const input of job.inputs) {
          // A result taken from a project that shares with this one: its versions are that
          // project's (numbered there), and so is their content.
          let version: number | string | undefined = undefined;
          let owner: string | undefined = undefined;
          if ('fromStep' in input) {
            const from = results.get(input.fromStep)!;
            version = from.outputs.find((o) => o.fileset === input.fileset)?.version;
            owner = from.project;
          } else {
            version = input.version;
          }
          if (version === undefined) break;
          const found = await versionOf(input.fileset, version, owner);
          inputs.push({
            fileset: input.fileset,
            version: found.version,
            manifestSha256: found.manifestSha256,
            path: input.path,
          });
        }
        if (inputs.length !== job.inputs.length) {
          findings.set(step.id, { kind: 'none', reason: NO_INPUT });
          continue;
        }
        asked.push({ step, job, signature: signJob({ ...job, inputs, code }).sha256 });
      }
      if (asked.length === 0) continue;
      const { results: found } = await this.commands.send('findReusableMany', {
        project,
        lookups: asked.map((a) => ({ signature: a.signature, excludeJobId: a.job.id })),
        limit: CANDIDATES,
      });
      for (const [i, { step, job }] of asked.entries()) {
        await this.choose(project, step, job, found[i] ?? [], findings, results);
      }
    }
  }

  /**
   * The lookups of the plan at submit in one round trip (`findReusableSteps`): every step that
   * may be reused sent in dependency order (the versions it reads from outside the run resolved
   * here), provenance signing those that read others with the newest results found for them.
   * Whether it answered for the whole run: not when it could not sign a step (a version's content
   * it does not know; loading), when it cannot be asked (an older provenance), when a version
   * cannot be resolved (the level path asks only for steps it looks up), and when a step read by
   * others takes an older result than the newest (evicted: its readers may read other content);
   * the caller then asks a level at a time, so the plan is the same either way.
   */
  private async lookUpAtOnce(
    project: string,
    steps: readonly ReusePlanStep[],
    { findings, results, signed, versionOf }: Looked,
  ): Promise<boolean> {
    const byName = new Map(steps.map((s) => [s.id, s]));
    const order = lookupLevels(steps)
      .flat()
      .map((id) => byName.get(id)!)
      .filter((s) => s.notReusable === null);
    if (order.length === 0) return true;
    const asked: ReuseLookupStep[] = [];
    try {
      for (const step of order) {
        const { job, code } = signed.get(step.id)!;
        const inputs: ReuseLookupStep['inputs'] = [];
        for (const input of job.inputs) {
          if ('fromStep' in input) {
            inputs.push({ fileset: input.fileset, fromStep: input.fromStep, path: input.path });
            continue;
          }
          const found = await versionOf(input.fileset, input.version);
          inputs.push({
            fileset: input.fileset,
            version: found.version,
            manifestSha256: found.manifestSha256,
            path: input.path,
          });
        }
        asked.push({
          id: step.id,
          excludeJobId: job.id,
          command: [...job.command],
          env: { ...job.env },
          secrets: { ...job.secrets },
          outputs: job.outputs.map((o) => ({ ...o })),
          code,
          inputs,
        });
      }
    } catch {
      return false;
    }
    let answers: ReuseStepLookup[];
    try {
      ({ steps: answers } = await this.commands.send('findReusableSteps', {
        project,
        steps: asked,
        limit: CANDIDATES,
      }));
    } catch (error) {
      this.logger.warn(
        { err: (error as Error).message },
        "the run's steps could not be looked up in one round trip; looking them up a level at a time",
      );
      return false;
    }
    if (answers.length !== order.length) return false;
    for (const [i, step] of order.entries()) {
      const answer = answers[i]!;
      switch (answer.kind) {
        case 'unknown':
          return false;
        case 'not_looked_up':
          break;
        case 'no_input':
          findings.set(step.id, { kind: 'none', reason: NO_INPUT });
          break;
        case 'looked_up': {
          const { job } = signed.get(step.id)!;
          const chosen = await this.choose(project, step, job, answer.results, findings, results);
          const newest = answer.results[0];
          if (
            chosen !== undefined &&
            newest !== undefined &&
            (chosen.project !== newest.project ||
              JSON.stringify(chosen.outputs) !== JSON.stringify(newest.outputs))
          ) {
            return false;
          }
          break;
        }
        default: {
          const unreachable: never = answer;
          return unreachable;
        }
      }
    }
    return true;
  }

  /**
   * The same choice as when the step is ready (`decide`), so the plan says what the run does: the
   * newest intact result found (or the newest, saying why it cannot be taken). Returns it.
   */
  private async choose(
    project: string,
    step: ReusePlanStep,
    job: PlannedJob,
    found: readonly ReusableResult[],
    findings: Map<string, ReuseFinding>,
    results: Map<string, ReusableResult>,
  ): Promise<ReusableResult | undefined> {
    const lookup = await this.intactAmong(project, job, found);
    if (lookup.kind === 'none' && lookup.newest === undefined) {
      findings.set(step.id, { kind: 'none', reason: lookup.reason });
      return undefined;
    }
    const result = lookup.kind === 'found' ? lookup.result : lookup.newest!;
    results.set(step.id, result);
    findings.set(step.id, {
      kind: 'found',
      jobId: result.jobId,
      problem: lookup.kind === 'found' ? null : lookup.reason,
      // Load times are not asked for yet: taking a result counts as free.
      loadSeconds: null,
      computeSeconds: result.durationMs === null ? null : result.durationMs / 1000,
    });
    return result;
  }

  /**
   * The newest intact earlier result with the signature: a newer result may have been evicted
   * while an older one (other versions, e.g. from a run with reuse: never) is still there. Jobs
   * that reused one share its versions: each set is checked once. Throws when it cannot be asked.
   */
  private async newestIntact(
    project: string,
    job: PlannedJob,
    signature: string,
    afterSeq: number | undefined,
  ): Promise<Lookup> {
    const { results } = await this.commands.send('findReusable', {
      project,
      signature,
      excludeJobId: job.id,
      limit: CANDIDATES,
      ...(afterSeq === undefined ? {} : { afterSeq }),
    });
    return this.intactAmong(project, job, results);
  }

  /** The first intact one of the earlier results found (newest first), or why none is. */
  private async intactAmong(
    project: string,
    job: PlannedJob,
    results: readonly ReusableResult[],
  ): Promise<Lookup> {
    if (results.length === 0) {
      return { kind: 'none', reason: 'no earlier job of the project had its signature' };
    }
    let problem: string | null = null;
    const checked = new Set<string>();
    for (const candidate of results) {
      const key = JSON.stringify(candidate.outputs);
      if (checked.has(key)) continue;
      checked.add(key);
      const why = await this.notIntact(candidate.project ?? project, job, candidate);
      if (why === null) return { kind: 'found', result: candidate };
      problem ??= why;
    }
    return {
      kind: 'none',
      newest: results[0],
      reason:
        checked.size === 1
          ? problem!
          : `${problem!}; none of the ${checked.size} earlier results with its signature is intact`,
    };
  }

  /** Why the earlier result cannot be taken as it is (null: it can). */
  private async notIntact(
    project: string,
    job: PlannedJob,
    result: ReusableResult,
  ): Promise<string | null> {
    for (const declared of job.outputs) {
      const version = result.outputs.find((o) => o.fileset === declared.fileset);
      if (version === undefined) {
        return `the earlier job ${result.jobId} committed no version of '${declared.fileset}', so it is computed`;
      }
      try {
        const check = await this.commands.send('verifyVersion', {
          project,
          name: version.fileset,
          version: version.version,
        });
        if (!check.intact) {
          return `the earlier result of job ${result.jobId} is not intact (${version.fileset}@${version.version}: ${check.problem ?? 'unknown'}), so it is computed again`;
        }
      } catch (error) {
        return `the earlier result of job ${result.jobId} could not be checked (${version.fileset}@${version.version}: ${(error as Error).message}), so it is computed`;
      }
    }
    return null;
  }

  /** The code named by the step (paths hashed here, file sets by their manifest), program, script. */
  private async hashCode(project: string, job: PlannedJob): Promise<HashedCode[]> {
    const refs = job.reuse?.code ?? [];
    const paths = refs.filter((r): r is string => typeof r === 'string');
    const hashed = await this.code.hash(job.command, paths, job.env['PATH'] ?? this.jobPath);
    for (const ref of refs) {
      if (typeof ref === 'string') continue;
      const what = `${ref.fileset}@${ref.version}`;
      try {
        const version = await this.commands.send('getVersion', {
          project,
          name: ref.fileset,
          version: ref.version,
        });
        hashed.push({
          ref: `${ref.fileset}@${version.version}`,
          role: 'code',
          sha256: version.manifestSha256,
          problem: null,
        });
      } catch (error) {
        // The catalog down is worth another try: the event is handed back and redelivered.
        if (error instanceof AcaiError && !error.retryable) {
          hashed.push({ ref: what, role: 'code', sha256: null, problem: error.message });
        } else throw error;
      }
    }
    return hashed;
  }
}
