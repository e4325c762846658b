import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  DEFAULT_RESOURCES,
  isProblem,
  ProvisioningProblems,
  RunProblems,
  type ProvisionSpec,
  type EventData,
  type StoredEvent,
  type StoredEventOf,
} from '@acai/contracts';
import {
  AggregateRepository,
  CommandSender,
  describeError,
  LOGGER,
  OnEvent,
  type EventingLogger,
} from '@acai/eventing';
import { newId } from '@acai/platform';
import {
  describeChoice,
  offerRef,
  placeLocally,
  profileDecider,
  profilingRunSpec,
  type Choice,
  type JobToPlace,
  type PlacementOutcome,
} from '@acai/provisioning';
import { failedBeforeAnyAttempt, jobDecider, secondsToPlaceAgain, type JobState } from '@acai/runs';
import { AutoProvisioner } from '../autoprovision/auto-provisioner.js';
import { ProfileRepository, ProvisionerRuns } from '../autoprovision/profile.repository.js';
import { Providers } from '../providers/providers.js';

export class ProvisionerJobs extends AggregateRepository<JobState> {}

/**
 * Waits until the observations projection has applied every job event before a position of the log
 * (so a profiling run's results are in when its end is handled).
 */
export class ObservationsReady {
  constructor(readonly waitFor: (seq: number) => Promise<void>) {}
}

/**
 * Gives every queued job a place to run and records why. A job without `provision` runs as it
 * asked, on the first provider; with `provision`, the auto-provisioner chooses, after profiling
 * runs when nothing is known of the job yet (the job waits for them, queued).
 */
@Controller()
export class AllocationHandler {
  constructor(
    private readonly jobs: ProvisionerJobs,
    private readonly auto: AutoProvisioner,
    private readonly profiles: ProfileRepository,
    private readonly runs: ProvisionerRuns,
    private readonly providers: Providers,
    private readonly observations: ObservationsReady,
    private readonly commands: CommandSender,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  @OnEvent('job.queued')
  async onQueued(@Payload() event: StoredEventOf<'job.queued'>): Promise<void> {
    const { state } = await this.jobs.load(event.project, event.aggregateId);
    if (state.status !== 'queued') return;
    await this.placeJob(event.project, event.aggregateId, state, event);
  }

  /**
   * The wait of a retry is over: the job is placed again, as if queued for the first time, except
   * that its share of the deadline is what is left of it (see {@link againstTimeLeft}).
   */
  @OnEvent('job.requeued')
  async onRequeued(@Payload() event: StoredEventOf<'job.requeued'>): Promise<void> {
    const { state } = await this.jobs.load(event.project, event.aggregateId);
    if (state.status !== 'queued') return;
    await this.placeJob(
      event.project,
      event.aggregateId,
      againstTimeLeft(state, new Date()),
      event,
    );
  }

  /**
   * The attempt asked to rescale stopped: its place is given up and the job is placed on the
   * configuration it was moved to (pinned in its `provision`), where it resumes from its checkpoint.
   */
  @OnEvent('job.rescaled')
  async onRescaled(@Payload() event: StoredEventOf<'job.rescaled'>): Promise<void> {
    this.providers.released(event.aggregateId);
    const { state } = await this.jobs.load(event.project, event.aggregateId);
    if (state.status !== 'queued') return;
    await this.placeJob(event.project, event.aggregateId, state, event);
  }

  /** A profiling run ended: the jobs that waited for it are placed with what it taught. */
  @OnEvent('run.succeeded')
  async onRunSucceeded(@Payload() event: StoredEventOf<'run.succeeded'>): Promise<void> {
    await this.profilingEnded(event, 'succeeded');
  }

  @OnEvent('run.failed')
  async onRunFailed(@Payload() event: StoredEventOf<'run.failed'>): Promise<void> {
    await this.profilingEnded(event, 'failed');
  }

  @OnEvent('run.cancelled')
  async onRunCancelled(@Payload() event: StoredEventOf<'run.cancelled'>): Promise<void> {
    await this.profilingEnded(event, 'cancelled');
  }

  /** Its node took it (the wait since it was queued is the `placement-waits` projection's). */
  @OnEvent('job.started')
  onJobStarted(@Payload() event: StoredEventOf<'job.started'>): void {
    this.providers.started(event.aggregateId, event.data.executor);
  }

  @OnEvent('job.succeeded')
  onJobSucceeded(@Payload() event: StoredEventOf<'job.succeeded'>): void {
    this.providers.released(event.aggregateId);
  }

  @OnEvent('job.failed')
  onJobFailed(@Payload() event: StoredEventOf<'job.failed'>): void {
    this.providers.released(event.aggregateId);
  }

  /** The attempt failed and waits for its retry: its place is given up (it is placed again). */
  @OnEvent('job.retry_scheduled')
  onJobRetryScheduled(@Payload() event: StoredEventOf<'job.retry_scheduled'>): void {
    this.providers.released(event.aggregateId);
  }

  @OnEvent('job.cancelled')
  onJobCancelled(@Payload() event: StoredEventOf<'job.cancelled'>): void {
    this.providers.released(event.aggregateId);
  }

  /**
   * A run ended. If it profiled a profile, the profile is profiled, and each job that waited for
   * it and is still queued is placed with what it taught (again on a redelivery: placing a job
   * twice records it once).
   */
  private async profilingEnded(
    event: StoredEvent,
    outcome: EventData<'profile.profiled'>['outcome'],
  ): Promise<void> {
    const runId = event.aggregateId;
    const { state: run } = await this.runs.load(event.project, runId);
    if (run.origin?.kind !== 'profiling') return;
    const { state: profile } = await this.profiles.execute(
      event.project,
      run.origin.profile,
      (s) => profileDecider.decide({ kind: 'finish', runId, outcome }, s),
      { correlationId: runId, causationId: event.id },
    );
    if (profile.status !== 'profiled' || profile.runId !== runId) return;
    // Its jobs' times are what the waiting jobs are placed by: let the projection take them in.
    await this.observations.waitFor(event.position.seq);
    for (const jobId of profile.waiting) {
      const { state } = await this.jobs.load(event.project, jobId);
      if (state.status === 'queued') await this.placeJob(event.project, jobId, state, event);
    }
  }

  private async placeJob(
    project: string,
    jobId: string,
    state: JobState,
    cause: StoredEvent,
  ): Promise<void> {
    const options = { correlationId: state.runId ?? cause.correlationId, causationId: cause.id };
    let data: Placement;
    try {
      data =
        state.provision === null
          ? await this.asRequested(jobId, state)
          : await this.chosen(project, jobId, state, state.provision, cause);
    } catch (error) {
      // What may succeed later as it is (AWS throttling, a service that is down) is thrown: the
      // event is redelivered and the job placed then. Any other refusal is final, whatever its
      // category: the job fails with its message. An error that is no AcaiError is a bug or an
      // outage nobody declared, and is thrown too (redelivered, then dead-lettered).
      if (!(error instanceof AcaiError) || error.retryable) throw error;
      data = { failure: error.message };
    }
    if ('waiting' in data) {
      this.logger.info({ jobId, project }, 'job waits for its profile’s profiling run');
      return;
    }
    if ('failure' in data) {
      const message = data.failure;
      this.logger.warn({ jobId, project, reason: message }, 'job cannot be placed');
      await this.jobs.execute(
        project,
        jobId,
        (s) =>
          jobDecider.decide(
            {
              kind: 'fail',
              data: failedBeforeAnyAttempt('no_resources', message),
            },
            s,
          ),
        options,
      );
      return;
    }
    // The share of its run's deadline and budget it was placed within travels with the placement,
    // and when it was placed: the instance is billed from then (the job counts it as spent).
    const at = { ...data, placedAt: new Date().toISOString() };
    const placed = state.share == null ? at : { ...at, share: state.share };
    await this.jobs.execute(
      project,
      jobId,
      (s) => jobDecider.decide({ kind: 'provision', data: placed }, s),
      options,
    );
  }

  /** The default configuration: what the step asked for, on the first provider. */
  private async asRequested(jobId: string, state: JobState): Promise<EventData<'job.provisioned'>> {
    const requested = state.resources ?? DEFAULT_RESOURCES;
    const first = this.providers.default;
    if (first.name === 'local') {
      return placeLocally(requested, this.providers.book.local);
    }
    const offer = this.providers.book.nearest(requested, [first.name]);
    const { pool } = await first.place(offer, jobId);
    return {
      provider: first.name,
      pool,
      resources: { cpu: offer.vCpu, memoryMb: offer.memoryMb },
      reason: `as requested: ${offer.name}, the cheapest ${first.name} configuration with ${requested.cpu} CPU and ${requested.memoryMb} MiB`,
      offer: offerRef(offer),
      decision: null,
    };
  }

  private async chosen(
    project: string,
    jobId: string,
    state: JobState,
    provision: ProvisionSpec,
    cause: StoredEvent,
  ): Promise<Placement> {
    const job: JobToPlace = {
      command: state.command,
      env: state.env,
      inputs: state.inputs,
      resources: state.resources ?? DEFAULT_RESOURCES,
      provision,
    };
    const outcome = await this.auto.place(job, project);
    switch (outcome.kind) {
      case 'impossible':
        return { failure: `no configuration can run this job: ${outcome.reason}` };
      case 'profile': {
        const profiled = await this.awaitProfiling(project, jobId, state, job, outcome, cause);
        if (!profiled) return { waiting: true };
        // Profiled since it was asked: placed now with what the profile taught.
        return this.chosen(project, jobId, state, provision, cause);
      }
      case 'chosen':
        return this.placement(jobId, outcome.choice);
    }
  }

  /**
   * The job waits for its profile's profiling run, which the first such job starts. Answers true
   * when the profile turns out to be profiled already (the job is not to wait).
   */
  private async awaitProfiling(
    project: string,
    jobId: string,
    state: JobState,
    job: JobToPlace,
    outcome: Extract<PlacementOutcome, { kind: 'profile' }>,
    cause: StoredEvent,
  ): Promise<boolean> {
    const signature = outcome.profile.signature;
    const { events, state: profile } = await this.profiles.execute(
      project,
      signature,
      (s) =>
        profileDecider.decide(
          {
            kind: 'await_profiling',
            jobId,
            runId: newId('run'),
            configurations: outcome.grid.map((o) => o.name),
          },
          s,
        ),
      { correlationId: state.runId ?? cause.correlationId, causationId: cause.id },
    );
    if (profile.status === 'profiled') return true;
    // The run is recorded before it is submitted, so submitting never happens twice by accident;
    // a delivery that recorded it but stopped before submitting is redelivered and submits then
    // (a second submit of the same id is refused, and changes nothing).
    const startedHere = events.some((e) => e.type === 'profile.profiling_started');
    const redelivered = events.length === 0 && profile.waiting[0] === jobId;
    if ((startedHere || redelivered) && profile.runId !== null) {
      await this.startProfiling(project, profile.runId, signature, state, job, outcome, cause);
    }
    return false;
  }

  private async startProfiling(
    project: string,
    runId: string,
    signature: string,
    state: JobState,
    job: JobToPlace,
    outcome: Extract<PlacementOutcome, { kind: 'profile' }>,
    cause: StoredEvent,
  ): Promise<void> {
    const spec = profilingRunSpec(
      state.name ?? 'job',
      {
        ...job,
        inputs: state.inputs,
        outputs: state.outputs,
        timeoutSeconds: state.timeoutSeconds,
      },
      outcome.profile,
      outcome.grid,
    );
    try {
      await this.commands.send('submitRun', {
        project,
        spec,
        submittedBy: 'auto-provisioner',
        id: runId,
        origin: { kind: 'profiling', profile: signature },
      });
    } catch (error) {
      if (!isProblem(error, RunProblems.RUN_EXISTS)) throw error;
      return;
    }
    this.logger.info(
      {
        project,
        runId,
        forRun: state.runId,
        causationId: cause.id,
        configurations: outcome.grid.map((o) => o.name),
      },
      'profiling a job before choosing its configuration',
    );
  }

  private async placement(jobId: string, choice: Choice): Promise<EventData<'job.provisioned'>> {
    const provider = this.providers.get(choice.offer.provider);
    try {
      const { pool } = await provider.place(choice.offer, jobId);
      this.logger.info({ jobId, choice: describeChoice(choice) }, 'job placed');
      return {
        provider: provider.name,
        pool,
        resources: { cpu: choice.offer.vCpu, memoryMb: choice.offer.memoryMb },
        reason: choice.reason,
        offer: offerRef(choice.offer),
        decision: choice.decision,
      };
    } catch (error) {
      this.logger.warn({ jobId, err: describeError(error) }, 'provider could not place job');
      // A provider's own failure that is no AcaiError says nothing of retrying: the job fails
      // with it rather than wait on a redelivery that may never succeed.
      throw error instanceof AcaiError
        ? error
        : new AcaiError(
            ProvisioningProblems.CAPACITY_UNAVAILABLE,
            `${provider.name} could not provide ${choice.offer.name}: ${describeError(error)}; run the job again later, or on another configuration`,
            undefined,
            { cause: error },
          );
    }
  }
}

/**
 * Where a job goes: placed (what `job.provisioned` records), nowhere (it fails with why), or
 * nowhere yet (it waits, queued, for its profile's profiling run).
 */
type Placement = EventData<'job.provisioned'> | { failure: string } | { waiting: true };

/**
 * A job placed again after it lost its place, with the deadline its provision states narrowed to
 * the time its share has left (`secondsToPlaceAgain`: on the job's clock, counting the work its
 * checkpoint saved). Placed against its whole share, a job interrupted on Spot went back to Spot as
 * if no time had been lost, and was interrupted again until its deadline was gone (seen in the
 * scheduling benchmark: one job lost four Spot nodes and was never moved). A job pinned to a
 * configuration, or without a deadline, is placed as it says.
 */
export function againstTimeLeft(state: JobState, now: Date): JobState {
  const provision = state.provision;
  if (provision === null || provision.offer !== undefined || provision.maxSeconds === undefined) {
    return state;
  }
  const seconds = secondsToPlaceAgain(state, now);
  if (seconds === undefined || seconds >= provision.maxSeconds) return state;
  return { ...state, provision: { ...provision, maxSeconds: Math.round(seconds * 1000) / 1000 } };
}
