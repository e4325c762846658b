import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  FilesetProblems,
  type CommandPayload,
  type CommandResult,
  type EventData,
  type JobOutcome,
  type PlannedJob,
  type StagedInput,
  type StoredEvent,
  type StoredEventOf,
} from '@acai/contracts';
import {
  CommandSender,
  JobControl,
  LOGGER,
  OnCommand,
  OnEvent,
  WorkQueue,
  type EventingLogger,
} from '@acai/eventing';
import { newId } from '@acai/platform';
import { doomedJobs, jobDecider, planRun, readyJobs, runDecider, type RunState } from '@acai/runs';
import { JobRepository } from './job.repository.js';
import { RunRepository } from './run.repository.js';

/**
 * The scheduler's run workflow: accepts runs, queues each job once the jobs it needs have
 * succeeded, puts provisioned jobs on their pool's work queue, and settles the run as jobs end.
 * Every step is load → decide → append on the run or job aggregate, and idempotent, so a
 * redelivered event repeats nothing.
 */
@Controller()
export class RunsHandler {
  constructor(
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly work: WorkQueue,
    private readonly control: JobControl,
    private readonly commands: CommandSender,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  @OnCommand('submitRun')
  async submit(
    @Payload() request: CommandPayload<'submitRun'>,
  ): Promise<CommandResult<'submitRun'>> {
    const { jobs } = planRun(request.spec, () => newId('job'));
    // A step no configuration can take would wait forever: refuse the run now, saying which.
    await this.commands.send('checkResources', {
      steps: jobs.map((j) => ({
        name: j.name,
        cpu: j.resources.cpu,
        memoryMb: j.resources.memoryMb,
        auto: j.provision !== null && j.provision.offer === undefined,
        ...(j.provision?.offer !== undefined ? { offer: j.provision.offer } : {}),
        ...(j.provision?.providers !== undefined ? { providers: j.provision.providers } : {}),
      })),
    });
    const runId = request.id ?? newId('run');
    await this.runs.execute(
      request.project,
      runId,
      (state) =>
        runDecider.decide(
          {
            kind: 'submit',
            data: {
              name: request.spec.name,
              jobs,
              submittedBy: request.submittedBy,
              origin: request.origin ?? null,
            },
          },
          state,
        ),
      { correlationId: runId },
    );
    this.logger.info({ runId, project: request.project, jobs: jobs.length }, 'run accepted');
    return { id: runId, jobs: jobs.map((j) => ({ id: j.id, name: j.name })) };
  }

  @OnCommand('cancelRun')
  async cancel(
    @Payload() request: CommandPayload<'cancelRun'>,
  ): Promise<CommandResult<'cancelRun'>> {
    await this.runs.execute(
      request.project,
      request.runId,
      (state) => runDecider.decide({ kind: 'cancel', reason: request.reason }, state),
      { correlationId: request.runId },
    );
    return { id: request.runId };
  }

  @OnEvent('run.submitted')
  async onSubmitted(@Payload() event: StoredEventOf<'run.submitted'>): Promise<void> {
    const { state } = await this.runs.load(event.project, event.aggregateId);
    await this.advance(event.project, event.aggregateId, state, event);
  }

  @OnEvent('run.cancel_requested')
  async onCancelRequested(@Payload() event: StoredEventOf<'run.cancel_requested'>): Promise<void> {
    const { state } = await this.runs.load(event.project, event.aggregateId);
    await this.advance(event.project, event.aggregateId, state, event);
  }

  /**
   * A run ends in the same append as the settlement of its last job; if the process died between
   * the two events, this ends it: the settlement itself is in the log, so it is delivered here even
   * if the job's end that caused it is never delivered again.
   */
  @OnEvent('run.job_settled')
  async onJobSettled(@Payload() event: StoredEventOf<'run.job_settled'>): Promise<void> {
    await this.runs.execute(
      event.project,
      event.aggregateId,
      (s) => runDecider.decide({ kind: 'conclude' }, s),
      { correlationId: event.aggregateId, causationId: event.causationId },
    );
  }

  @OnEvent('job.provisioned')
  async onProvisioned(@Payload() event: StoredEventOf<'job.provisioned'>): Promise<void> {
    await this.jobs.execute(
      event.project,
      event.aggregateId,
      (s) => jobDecider.decide({ kind: 'dispatch', pool: event.data.pool }, s),
      { correlationId: event.correlationId, causationId: event.id },
    );
  }

  /**
   * The work message goes out only once `job.dispatched` is in the log, so an executor that picks
   * it up always finds the job dispatched. This handler runs at least once per dispatch (it is a
   * consumer of the log), and the message id (job and attempt) makes a second publish a no-op.
   */
  @OnEvent('job.dispatched')
  async onDispatched(@Payload() event: StoredEventOf<'job.dispatched'>): Promise<void> {
    const { state } = await this.jobs.load(event.project, event.aggregateId);
    if (
      state.status !== 'dispatched' ||
      state.attempt !== event.data.attempt ||
      state.runId === null ||
      state.name === null ||
      state.resources === null
    ) {
      return;
    }
    await this.work.publish(event.data.pool, {
      project: event.project,
      runId: state.runId,
      jobId: event.aggregateId,
      name: state.name,
      attempt: event.data.attempt,
      dispatchedSeq: event.position.seq,
      command: [...state.command],
      env: { ...state.env },
      resources: state.resources,
      inputs: [...state.inputs],
      outputs: [...state.outputs],
      timeoutSeconds: state.timeoutSeconds,
      network: state.network,
      secrets: { ...state.secrets },
    });
  }

  @OnEvent('job.succeeded')
  async onSucceeded(@Payload() event: StoredEventOf<'job.succeeded'>): Promise<void> {
    await this.settle(event, 'succeeded');
  }

  @OnEvent('job.failed')
  async onFailed(@Payload() event: StoredEventOf<'job.failed'>): Promise<void> {
    await this.settle(event, 'failed');
  }

  @OnEvent('job.cancelled')
  async onCancelled(@Payload() event: StoredEventOf<'job.cancelled'>): Promise<void> {
    await this.settle(event, 'cancelled');
  }

  private async settle(event: StoredEvent, outcome: JobOutcome): Promise<void> {
    const runId = event.correlationId;
    if (runId === null) return;
    const { state } = await this.runs.execute(
      event.project,
      runId,
      (s) => runDecider.decide({ kind: 'settle_job', jobId: event.aggregateId, outcome }, s),
      { correlationId: runId, causationId: event.id },
    );
    await this.advance(event.project, runId, state, event);
  }

  /** Queues the jobs that became ready and cancels the ones that can no longer run. */
  private async advance(
    project: string,
    runId: string,
    run: RunState,
    cause: StoredEvent,
  ): Promise<void> {
    const options = { correlationId: runId, causationId: cause.id };
    for (const job of readyJobs(run)) {
      const { state } = await this.jobs.load(project, job.id);
      if (state.status !== 'none') continue;
      const inputs = await this.resolveInputs(project, job);
      await this.jobs.execute(
        project,
        job.id,
        (s) =>
          'failure' in inputs
            ? jobDecider.decide({ kind: 'fail', data: inputs.failure }, s)
            : jobDecider.decide(
                {
                  kind: 'queue',
                  data: {
                    runId,
                    name: job.name,
                    command: job.command,
                    env: job.env,
                    resources: job.resources,
                    inputs: inputs.staged,
                    outputs: job.outputs,
                    timeoutSeconds: job.timeoutSeconds,
                    network: job.network,
                    secrets: job.secrets,
                    provision: job.provision,
                  },
                },
                s,
              ),
        options,
      );
    }
    const cancelling = run.phase === 'cancelling';
    for (const job of doomedJobs(run)) {
      const reason = cancelling ? 'the run was cancelled' : 'a step it needs did not succeed';
      let mayRun = false;
      const { events } = await this.jobs.execute(
        project,
        job.id,
        (s) => {
          // Only a job an executor may have taken needs telling to stop.
          mayRun = s.status === 'dispatched' || s.status === 'running';
          return jobDecider.decide({ kind: 'cancel', reason }, s);
        },
        options,
      );
      if (events.length > 0 && mayRun) this.killIfRunning(project, job.id, reason);
    }
  }

  /**
   * Pins each input to a version now, when the job is queued (`latest` and labels move later):
   * the job runs on exactly these, and its history says which. An input that does not exist
   * fails the job, with the reason.
   */
  private async resolveInputs(
    project: string,
    job: PlannedJob,
  ): Promise<{ staged: StagedInput[] } | { failure: EventData<'job.failed'> }> {
    const staged: StagedInput[] = [];
    for (const input of job.inputs) {
      try {
        const version = await this.commands.send('getVersion', {
          project,
          name: input.fileset,
          version: input.version,
        });
        if (version.evicted) {
          throw new AcaiError(
            FilesetProblems.VERSION_EVICTED,
            `version ${version.version} of '${input.fileset}' was evicted`,
          );
        }
        staged.push({
          fileset: input.fileset,
          version: version.version,
          manifestSha256: version.manifestSha256,
          path: input.path,
        });
      } catch (error) {
        // Worth another try later (the catalog is down or behind): the event is redelivered.
        // Anything else the catalog refused will not change: the job fails, saying why.
        if (!(error instanceof AcaiError) || error.retryable) throw error;
        return {
          failure: {
            reason: 'staging_failed',
            message: `input ${input.fileset}@${input.version}: ${error.message}`,
            exitCode: null,
            signal: null,
            durationMs: null,
            lastLines: [],
            attempt: null,
          },
        };
      }
    }
    return { staged };
  }

  /** Tells every executor to stop the job's process if it runs it. */
  private killIfRunning(project: string, jobId: string, reason: string): void {
    this.control.cancel({ project, jobId, reason });
  }
}
