import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  DEFAULT_RESOURCES,
  ProvisioningProblems,
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
import { catalogueRates } from '@acai/provisioning';
import { jobDecider, type JobState } from '@acai/runs';
import {
  AutoProvisioner,
  describeChoice,
  offerRef,
  type Choice,
  type JobToPlace,
} from '../autoprovision/auto-provisioner.js';
import { ProfilingRepository } from '../autoprovision/profiling.repository.js';
import { profilingRunSpec } from '../autoprovision/profiling-run.js';
import { Providers } from '../providers/providers.js';
import { placeLocally } from './local-provider.js';

export class ProvisionerJobs extends AggregateRepository<JobState> {}

/** Waits until the observations projection has seen an event (so profiling results are in). */
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
    private readonly profiling: ProfilingRepository,
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

  /** A profiling run ended: the jobs that waited for it are placed with what it taught. */
  @OnEvent('run.succeeded')
  async onRunSucceeded(@Payload() event: StoredEventOf<'run.succeeded'>): Promise<void> {
    await this.profilingEnded(event);
  }

  @OnEvent('run.failed')
  async onRunFailed(@Payload() event: StoredEventOf<'run.failed'>): Promise<void> {
    await this.profilingEnded(event);
  }

  @OnEvent('run.cancelled')
  async onRunCancelled(@Payload() event: StoredEventOf<'run.cancelled'>): Promise<void> {
    await this.profilingEnded(event);
  }

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

  @OnEvent('job.cancelled')
  onJobCancelled(@Payload() event: StoredEventOf<'job.cancelled'>): void {
    this.providers.released(event.aggregateId);
  }

  private async profilingEnded(event: StoredEvent): Promise<void> {
    const signature = await this.profiling.finish(event.aggregateId);
    if (signature === undefined) return;
    await this.observations.waitFor(event.position.seq);
    for (const waiter of await this.profiling.waiting(signature)) {
      const { state } = await this.jobs.load(waiter.project, waiter.jobId);
      if (state.status === 'queued')
        await this.placeJob(waiter.project, waiter.jobId, state, event);
      await this.profiling.release(waiter.jobId);
    }
  }

  private async placeJob(
    project: string,
    jobId: string,
    state: JobState,
    cause: StoredEvent,
  ): Promise<void> {
    const options = { correlationId: state.runId ?? cause.correlationId, causationId: cause.id };
    let data: EventData<'job.provisioned'> | { failure: string };
    try {
      data =
        state.provision === null
          ? await this.asRequested(jobId, state)
          : await this.chosen(project, jobId, state, state.provision, cause);
    } catch (error) {
      if (error instanceof WaitingForProfile) return;
      // What may succeed later as it is (AWS throttling, a service that is down) is thrown: the
      // event is redelivered and the job placed then. Any other refusal is final, whatever its
      // category: the job fails with its message. An error that is no AcaiError is a bug or an
      // outage nobody declared, and is thrown too (redelivered, then dead-lettered).
      if (!(error instanceof AcaiError) || error.retryable) throw error;
      data = { failure: error.message };
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
              data: {
                reason: 'no_resources',
                message,
                exitCode: null,
                signal: null,
                durationMs: null,
                lastLines: [],
                attempt: null,
              },
            },
            s,
          ),
        options,
      );
      return;
    }
    const placed = data;
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
      const placement = placeLocally(requested, this.providers.book.local);
      const rates = catalogueRates();
      const { cpu, memoryMb } = placement.resources;
      return {
        ...placement,
        offer: {
          provider: 'local',
          name: `local-${cpu}cpu-${memoryMb}mb`,
          vCpu: cpu,
          memoryMb,
          pricePerHour: cpu * rates.perVcpuHour + (memoryMb / 1024) * rates.perGibHour,
        },
        decision: null,
      };
    }
    const offer = this.auto.nearest(requested, [first.name]);
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
  ): Promise<EventData<'job.provisioned'> | { failure: string }> {
    const job: JobToPlace = {
      command: state.command,
      env: state.env,
      inputs: state.inputs,
      resources: state.resources ?? DEFAULT_RESOURCES,
      provision,
    };
    const outcome = await this.auto.place(job);
    switch (outcome.kind) {
      case 'impossible':
        return { failure: `no configuration can run this job: ${outcome.reason}` };
      case 'profile': {
        await this.profiling.wait(jobId, project, outcome.profile.signature);
        if ((await this.profiling.status(outcome.profile.signature)) === undefined) {
          await this.startProfiling(project, state, job, outcome.profile, outcome.grid, cause);
        }
        throw new WaitingForProfile();
      }
      case 'chosen':
        return this.placement(jobId, outcome.choice);
    }
  }

  private async startProfiling(
    project: string,
    state: JobState,
    job: JobToPlace,
    profile: Parameters<typeof profilingRunSpec>[2],
    grid: Parameters<typeof profilingRunSpec>[3],
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
      profile,
      grid,
    );
    const submitted = await this.commands.send('submitRun', {
      project,
      spec,
      submittedBy: 'auto-provisioner',
    });
    const first = await this.profiling.begin(profile.signature, project, submitted.id, new Date());
    this.logger.info(
      {
        project,
        runId: submitted.id,
        forRun: state.runId,
        causationId: cause.id,
        configurations: grid.map((o) => o.name),
        duplicate: !first,
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

/** The job waits, queued, for its profile's profiling run. */
class WaitingForProfile extends Error {}
