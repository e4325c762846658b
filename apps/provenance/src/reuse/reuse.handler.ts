import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  type CommandPayload,
  type JobSignature,
  type JobView,
  type ReusableResult,
  type ReuseExplanation,
  type ReuseStepLookup,
} from '@acai/contracts';
import { appliedWithin, OnCommand, ProjectionControl } from '@acai/eventing';
import { compareSignatures } from '@acai/runs';
import { findJob } from '../history/fresh.js';
import { ReadModels } from '../history/read-models.repository.js';
import { ReuseLookup } from './reuse-lookup.js';
import { SignaturesRepository, type SignedJob } from './signatures.repository.js';

/** How long a lookup that found nothing waits for the projections to catch up with the log. */
const CATCH_UP_MS = 1_500;

/** Earlier results by signature, for the reuse planner, and why a job was (not) reused. */
@Controller()
export class ReuseHandler {
  constructor(
    private readonly signatures: SignaturesRepository,
    private readonly readModels: ReadModels,
    private readonly projections: ProjectionControl,
    private readonly lookup: ReuseLookup,
  ) {}

  /**
   * The newest earlier results with the signature, newest first, from the index in memory (the
   * tables while it catches up). A step asks when it is ready, naming the event that made it ready
   * (`afterSeq`): the answer waits until the projections have applied the log up to it (at once
   * when they have), so the results committed before it are there. A caller that names none gets
   * the older way: before answering "none", the projections catch up with the log as of now, so a
   * result another run committed a moment ago is taken, not computed again (a look at the log for
   * every signature with no result, the usual case). Either wait is at most {@link CATCH_UP_MS}: a
   * lookup that stays behind is answered with what is known (the step computes, never wrongly
   * reuses).
   */
  @OnCommand('findReusable')
  async findReusable(
    @Payload() req: CommandPayload<'findReusable'>,
  ): Promise<{ results: ReusableResult[] }> {
    const lookup = async () =>
      (
        await this.lookup.findMany(
          req.project,
          [{ signature: req.signature, excludeJobId: req.excludeJobId }],
          req.limit,
        )
      )[0] ?? [];
    if (req.afterSeq !== undefined) {
      await appliedWithin(this.projections, req.afterSeq, CATCH_UP_MS);
      return { results: await lookup() };
    }
    const results = await lookup();
    if (results.length > 0) return { results };
    // The log's end not known (JetStream away a moment): what is known is the answer.
    const caughtUp = await this.projections.catchUp(CATCH_UP_MS).catch(() => false);
    return { results: caughtUp ? await lookup() : results };
  }

  /** `findReusable` for each lookup, in order: a run's steps planned in one round trip. */
  @OnCommand('findReusableMany')
  async findReusableMany(
    @Payload() req: CommandPayload<'findReusableMany'>,
  ): Promise<{ results: ReusableResult[][] }> {
    return { results: await this.lookup.findMany(req.project, req.lookups, req.limit) };
  }

  /** A run's steps in one round trip, provenance signing those that read others (`findSteps`). */
  @OnCommand('findReusableSteps')
  findReusableSteps(@Payload() req: CommandPayload<'findReusableSteps'>): {
    steps: ReuseStepLookup[];
  } {
    return { steps: this.lookup.findSteps(req.project, req.steps, req.limit) };
  }

  @OnCommand('explainReuse')
  async explainReuse(
    @Payload() req: { project: string; jobId: string },
  ): Promise<ReuseExplanation> {
    const job = await this.findJob(req);
    let signed = await this.signatures.find(req.project, req.jobId);
    if (signed === null && job.status !== 'pending' && (await this.projections.catchUp(3_000))) {
      signed = await this.signatures.find(req.project, req.jobId);
    }
    if (signed === null && job.status === 'skipped' && job.reason === 'not_needed') {
      return {
        jobId: req.jobId,
        decision: 'not_needed',
        reason: `its run's reuse plan left it out: ${job.message ?? 'only steps that took earlier results read it'}`,
        signature: null,
        reusedFrom: null,
        nearest: null,
        parts: null,
      };
    }
    if (signed === null) {
      return {
        jobId: req.jobId,
        decision: 'unsigned',
        reason:
          job.status === 'pending'
            ? 'it is not queued yet: its signature is computed when it is'
            : 'it was queued before acai recorded signatures, or was never queued',
        signature: null,
        reusedFrom: null,
        nearest: null,
        parts: null,
      };
    }
    const reused = signed.status === 'reused';
    const other = reused
      ? await this.signatures.find(req.project, signed.reusedFrom ?? '')
      : await this.signatures.nearestBefore(req.project, signed.name, signed.seq);
    return {
      jobId: req.jobId,
      decision: reused ? 'reused' : 'computed',
      reason:
        signed.reason ??
        (reused
          ? 'an earlier job had its signature'
          : 'no earlier job of the project had its signature'),
      signature: signed.signature,
      reusedFrom: signed.reusedFrom,
      nearest: other === null ? null : nearest(signed, other),
      parts: signed.parts,
    };
  }

  private findJob(req: { project: string; jobId: string }): Promise<JobView> {
    return findJob(this.readModels, this.projections, req.project, req.jobId);
  }
}

function nearest(mine: SignedJob, other: SignedJob): NonNullable<ReuseExplanation['nearest']> {
  const asSignature = (j: SignedJob): JobSignature => ({
    sha256: j.signature,
    parts: j.parts,
    complete: j.complete,
  });
  return {
    jobId: other.jobId,
    runId: other.runId,
    status: other.status,
    sameSignature: other.signature === mine.signature,
    differences: compareSignatures(asSignature(mine), asSignature(other)),
  };
}
