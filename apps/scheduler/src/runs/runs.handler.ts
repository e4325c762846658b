import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AcaiError,
  DEFAULT_JOB_PATH,
  deadlineAt,
  FilesetProblems,
  isProblem,
  ProvisioningProblems,
  RunProblems,
  parseDeadline,
  type CommandPayload,
  type CommandResult,
  type EventData,
  type JobOutcome,
  type PlannedJob,
  type ReusePlannedStep,
  type RunLimits,
  type RunPlanView,
  type RunSpec,
  type StagedInput,
  type StepPlan,
  type StepToEstimate,
  type StoredEvent,
  type StoredEventOf,
} from '@acai/contracts';
import {
  CommandSender,
  describeError,
  HandleLater,
  JobControl,
  LOGGER,
  OnCommand,
  OnEvent,
  WorkQueue,
  type EventingLogger,
} from '@acai/eventing';
import { newId } from '@acai/platform';
import {
  admitRun,
  bestTrial,
  earlyStop,
  jobDecider,
  failedBeforeAnyAttempt,
  jobsToLeaveOut,
  jobsToStop,
  plannedOutput,
  limitedProvision,
  planRun,
  readyJobs,
  remainingLimits,
  RESCALE_GRACE_SECONDS,
  planAgain,
  rescaleCheck,
  retryDueInMs,
  runDecider,
  sweepsToComplete,
  unbudgetedJobs,
  type JobState,
  type PendingRescale,
  type RescaleCheck,
  type Stayed,
  type RunState,
} from '@acai/runs';
import { CodeHasher } from './code-hasher.js';
import { JobRepository } from './job.repository.js';
import { ReusePlanner } from './reuse-planner.js';
import { RunRepository } from './run.repository.js';

/**
 * How long a report whose rescale plan is in flight is handed back for: the plan is recorded as
 * soon as it is answered; the report only checks that it was (or asks again after a restart).
 */
const RESCALE_RECHECK_MS = 2_000;

/** How many times one report is handed back while its plan is in flight. */
const RESCALE_HAND_BACKS = 5;

/**
 * The scheduler's run workflow: accepts runs, queues each job once the jobs it needs have
 * succeeded (or ended, for one that continues on failure), skips the ones that cannot run, queues
 * a job again once the wait of its retry is over, puts dispatched jobs on their pool's work queue
 * (the dispatcher, `src/dispatch/`, decides when a provisioned job is dispatched), and settles the
 * run as jobs end. Every step is load → decide → append on the run or job
 * aggregate, and idempotent, so a redelivered event repeats nothing.
 */
@Controller()
export class RunsHandler {
  /** Jobs last judged to stay where they run: the attempt and the step they were judged at. */
  private readonly stayed = new Map<string, Stayed>();
  /** Rescale plans asked of the provisioner and not recorded yet, by job. */
  private readonly planning = new Map<string, Promise<void>>();
  /** Reports handed back while their job's plan was in flight, and how often, by event id. */
  private readonly handedBack = new Map<string, number>();

  constructor(
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly work: WorkQueue,
    private readonly control: JobControl,
    private readonly commands: CommandSender,
    @Inject(LOGGER) private readonly logger: EventingLogger,
    private readonly reuse: ReusePlanner = new ReusePlanner(
      commands,
      new CodeHasher(),
      logger,
      DEFAULT_JOB_PATH,
    ),
  ) {}

  @OnCommand('submitRun')
  async submit(
    @Payload() request: CommandPayload<'submitRun'>,
  ): Promise<CommandResult<'submitRun'>> {
    // A profiling run is run for its running times: nothing of it is ever taken from earlier jobs.
    const spec: RunSpec =
      request.origin?.kind === 'profiling'
        ? {
            ...request.spec,
            reuse: 'never',
            steps: request.spec.steps.map((s) => ({ ...s, reuse: 'never' as const })),
          }
        : request.spec;
    const { jobs, sweeps } = planRun(spec, () => newId('job'));
    // A step no configuration can take would wait forever: refuse the run now, saying which (a
    // swept step once: its trials differ only in env).
    const steps = jobs.filter((j) => (j.trial?.index ?? 1) === 1);
    await this.commands.send('checkResources', {
      steps: steps.map((j) => ({
        name: j.trial?.step ?? j.name,
        cpu: j.resources.cpu,
        memoryMb: j.resources.memoryMb,
        auto: j.provision !== null && j.provision.offer === undefined,
        ...(j.provision?.offer !== undefined ? { offer: j.provision.offer } : {}),
        ...(j.provision?.providers !== undefined ? { providers: j.provision.providers } : {}),
      })),
    });
    const limits = await this.admit(request.project, request.spec, jobs);
    const reusePlan = await this.planReuse(request.project, jobs);
    const runId = request.id ?? newId('run');
    // A run and jobs named here just now have no events yet: nothing to read to know it (were
    // they to have some, the append would conflict and the log be read).
    if (request.id === undefined) this.runs.prime(request.project, runId, newRun());
    const { events } = await this.runs.execute(
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
              ...(request.spec.priority === undefined ? {} : { priority: request.spec.priority }),
              ...(request.spec.maxParallel === undefined
                ? {}
                : { maxParallel: request.spec.maxParallel }),
              ...(limits === null ? {} : { limits }),
              ...(sweeps.length > 0 ? { sweeps } : {}),
            },
            ...(reusePlan === undefined ? {} : { reusePlan }),
          },
          state,
        ),
      { correlationId: runId },
    );
    if (events.length > 0) {
      for (const job of jobs) this.jobs.prime(request.project, job.id, newJob());
    }
    this.logger.info({ runId, project: request.project, jobs: jobs.length }, 'run accepted');
    return { id: runId, jobs: jobs.map((j) => ({ id: j.id, name: j.name })) };
  }

  /**
   * The reuse plan the run follows (`planReuse`: the same lookups as `POST /api/v1/runs/plan`), made
   * once at submit and recorded with it, so that a replay decides the same: a step it leaves out
   * is neither run nor taken. Undefined, and each step decided when it is ready as before, when
   * no step may be reused, when it cannot be made (provenance or the catalog away: nothing is
   * guessed), and when a step it would leave out has another project's result (the steps that
   * read it could not read those versions in this project).
   */
  private async planReuse(
    project: string,
    jobs: readonly PlannedJob[],
  ): Promise<ReusePlannedStep[] | undefined> {
    // Only a step that may take an earlier result, read by another that may, can be left out:
    // any other run is decided step by step as it is ready, with no lookups at submit.
    const names = new Set(jobs.filter(mayBeReused).map((j) => j.name));
    if (!jobs.some((j) => mayBeReused(j) && j.needs.some((n) => names.has(n)))) return undefined;
    try {
      const steps = await this.reuse.planSteps(project, jobs);
      if (steps.some((s) => s.decision === 'not_needed' && s.foreign)) return undefined;
      // A swept step is never reused or left out: its trials are decided as they are ready.
      const trials = new Set(jobs.filter((j) => j.trial != null).map((j) => j.id));
      return steps
        .filter((s) => !trials.has(s.jobId))
        .map(({ foreign: _foreign, ...step }) => step);
    } catch (error) {
      this.logger.warn(
        { project, err: (error as Error).message },
        'the reuse plan could not be made at submit; each step is decided when it is ready',
      );
      return undefined;
    }
  }

  /**
   * What a run would do, without submitting it: its DAG checked as at submit, then planned by the
   * provisioner from now within its deadline and budget, and what reuse would do with each step.
   * Reuse that cannot be planned (provenance or the catalog away) is left out, not guessed.
   */
  @OnCommand('planRun')
  async plan(@Payload() request: CommandPayload<'planRun'>): Promise<CommandResult<'planRun'>> {
    const { jobs } = planRun(request.spec, () => newId('job'));
    const now = new Date();
    const [estimate, reuse] = await Promise.all([
      this.estimate(request.project, jobs, now, this.deadlineOf(request.spec, now), {
        budget: request.spec.budget ?? null,
      }),
      this.reuse.planRun(request.project, jobs).catch((error: unknown) => {
        this.logger.warn(
          { project: request.project, err: (error as Error).message },
          'the reuse plan could not be made; the plan says nothing about reuse',
        );
        return undefined;
      }),
    ]);
    return reuse === undefined ? estimate : { ...estimate, reuse };
  }

  /**
   * A run with a deadline or budget is planned before it is accepted, and refused with the estimate
   * when its deadline has passed or its budget is below its cheapest plan (`admitRun`). Null for a
   * run with neither: nothing is asked of the provisioner.
   */
  private async admit(
    project: string,
    spec: RunSpec,
    jobs: readonly PlannedJob[],
  ): Promise<RunLimits | null> {
    if (spec.deadline === undefined && spec.budget === undefined) return null;
    const now = new Date();
    const deadline = this.deadlineOf(spec, now);
    const budget = spec.budget ?? null;
    const plan = await this.estimate(project, jobs, now, deadline, { budget });
    return admitRun({ deadlineSpec: spec.deadline ?? null, deadline, budget, now, plan });
  }

  /** The spec's deadline as an instant, for a run submitted `now` (validated at the edge). */
  private deadlineOf(spec: RunSpec, now: Date): Date | null {
    if (spec.deadline === undefined) return null;
    const parsed = parseDeadline(spec.deadline);
    if (typeof parsed === 'string') {
      throw new AcaiError(RunProblems.RUN_SPEC_INVALID, `Invalid run spec: deadline: ${parsed}`, [
        { path: 'deadline', message: parsed },
      ]);
    }
    return deadlineAt(parsed, now);
  }

  /** The provisioner's plan of `jobs` from `now`, within the deadline and what is left of the budget. */
  private estimate(
    project: string,
    jobs: readonly PlannedJob[],
    now: Date,
    deadline: Date | null,
    left: { budget: number | null },
  ): Promise<RunPlanView> {
    return this.commands.send('estimateRun', {
      project,
      steps: jobs.map(toEstimate),
      now: now.toISOString(),
      deadline: deadline?.toISOString() ?? null,
      budget: left.budget,
    });
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
    const { state } = await this.runs.execute(
      event.project,
      event.aggregateId,
      (s) => runDecider.decide({ kind: 'conclude' }, s),
      { correlationId: event.aggregateId, causationId: event.causationId },
    );
    // Likewise a sweep whose last trial settled is completed if the process died before it was.
    await this.completeSweeps(event.project, event.aggregateId, state, event);
  }

  /**
   * A sweep trial reported metrics: if they include its objective and its sweep stops trials
   * early, the rule judges it against the other trials (as the log has them now); a hopeless trial
   * is cancelled, with the rule, its value and the threshold in the event, and its process killed.
   * A redelivery judges again on as much or more, and a trial stopped once stays stopped.
   */
  @OnEvent('job.metrics_reported')
  async onMetricsReported(@Payload() event: StoredEventOf<'job.metrics_reported'>): Promise<void> {
    const runId = event.correlationId;
    if (runId === null) return;
    const { state: job } = await this.jobs.load(event.project, event.aggregateId);
    const planning = this.rescaleIfLate(event, runId, job);
    await this.stopIfHopeless(event, runId, job);
    // A plan asked of the provisioner for this report is not recorded yet: the report comes back
    // (JetStream holds it meanwhile, so a scheduler that dies first asks again), without holding
    // up the job's other events, or any other job's, while the provisioner answers.
    if (planning && this.handBack(event.id)) throw new HandleLater(RESCALE_RECHECK_MS);
    this.handedBack.delete(event.id);
  }

  /**
   * A sweep trial's report: if it includes its objective and its sweep stops trials early, the
   * rule judges it against the other trials; a hopeless trial is cancelled and its process killed.
   */
  private async stopIfHopeless(
    event: StoredEventOf<'job.metrics_reported'>,
    runId: string,
    job: JobState,
  ): Promise<void> {
    const trial = job.trial ?? null;
    const objective = trial?.objective ?? null;
    if (trial === null || objective === null || job.status !== 'running') return;
    const points = event.data.points.filter((p) => p.name === objective.metric);
    const series = job.objectiveSeries ?? [];
    if (points.length === 0 || series.length === 0) return;
    const { state: run } = await this.runs.load(event.project, runId);
    const sweep = run.sweeps.find((s) => s.step === trial.step);
    if (run.phase !== 'active' || sweep === undefined || sweep.earlyStopping === null) return;
    const others = [];
    for (const id of sweep.trials) {
      if (id === event.aggregateId) continue;
      const { state } = await this.jobs.load(event.project, id);
      others.push(state.objectiveSeries ?? []);
    }
    // A value without a step was numbered when it was folded in: judge at the last step then.
    const steps = points.map((p) => p.step);
    const last = series[series.length - 1]![0];
    const window = steps.every((step) => step !== null)
      ? { from: Math.min(...steps), to: Math.max(...steps) }
      : { from: last, to: last };
    const decision = earlyStop(sweep.earlyStopping, objective, series, window, others);
    if (decision === null) return;
    let mayRun = false;
    const { events } = await this.jobs.execute(
      event.project,
      event.aggregateId,
      (s) => {
        mayRun = s.status === 'dispatched' || s.status === 'running';
        return jobDecider.decide({ kind: 'stop_early', decision }, s);
      },
      { correlationId: runId, causationId: event.id },
    );
    if (events.length === 0) return;
    this.logger.info(
      { runId, jobId: event.aggregateId, rule: decision.rule, step: decision.step },
      'trial stopped early',
    );
    if (mayRun) this.killIfRunning(event.project, event.aggregateId, decision.reason);
  }

  /**
   * SMLT's re-optimisation: a running job whose measured pace predicts it misses its step's share
   * of the run's deadline or budget (`rescaleCheck`) is planned again by the provisioner from its
   * measurements, on every configuration it could move to; a move is recorded with the prediction
   * and the measurements (`job.rescale_requested`) and its executor is told to checkpoint and stop
   * the attempt, after which the job resumes from its checkpoint where it was moved. A move still
   * pending is asked again with every report, in case the control message was lost.
   *
   * The provisioner is asked off the consumer's path (one plan at a time per job): its answer is
   * decided on and recorded when it comes, with the report as its cause. Answers whether a plan
   * for this job is in flight (the report is to be handed back until it is recorded).
   */
  private rescaleIfLate(
    event: StoredEventOf<'job.metrics_reported'>,
    runId: string,
    job: JobState,
  ): boolean {
    const pending = job.rescale ?? null;
    if (job.status === 'running' && pending !== null && pending.attempt === job.attempt) {
      this.askToRescale(event.project, event.aggregateId, pending);
      return false;
    }
    if (this.planning.has(event.aggregateId)) return true;
    const now = new Date();
    const check = rescaleCheck(job, now);
    if (check === null) return false;
    // Judged to stay before: asked again only once its prediction is worse than it was then.
    if (!planAgain(this.stayed.get(event.aggregateId), job.attempt, check)) return false;
    const jobId = event.aggregateId;
    const task: Promise<void> = this.planRescale(event, runId, job, check)
      .catch((error: unknown) => {
        // The provisioner down or slow, or a race lost: the report, handed back, asks again.
        this.logger.warn(
          { runId, jobId, err: describeError(error) },
          'job predicted to miss its share could not be planned again yet; its report asks again',
        );
      })
      .finally(() => {
        if (this.planning.get(jobId) === task) this.planning.delete(jobId);
      });
    this.planning.set(jobId, task);
    return true;
  }

  /**
   * Whether a report whose plan is in flight is handed back once more: at most
   * {@link RESCALE_HAND_BACKS} times (a provisioner that does not answer by then is asked again by
   * the job's next report, rather than the report be given up as never settled).
   */
  private handBack(eventId: string): boolean {
    const times = this.handedBack.get(eventId) ?? 0;
    if (times >= RESCALE_HAND_BACKS) {
      this.handedBack.delete(eventId);
      return false;
    }
    this.handedBack.delete(eventId);
    this.handedBack.set(eventId, times + 1);
    // At most the last 10,000 (the oldest first out): a forgotten one is only handed back again.
    if (this.handedBack.size > 10_000) this.handedBack.delete(this.handedBack.keys().next().value!);
    return true;
  }

  /**
   * Every rescale plan in flight, answered and recorded (or failed), waited for at most `boundMs`
   * (absent: as long as they take). Answers whether none is left in flight. At shutdown the
   * scheduler waits for them a little while its bus is still up (`onClosing`), so an answer
   * the provisioner is about to give is recorded rather than asked for again; one that takes
   * longer is left: its report, handed back and never settled, is delivered again and asks again.
   */
  async whenPlanned(boundMs?: number): Promise<boolean> {
    const settled = (async () => {
      while (this.planning.size > 0) await Promise.all([...this.planning.values()]);
      return true;
    })();
    if (boundMs === undefined) return settled;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), boundMs);
    });
    try {
      return await Promise.race([settled, bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The provisioner's plan for a job `check` says is late or over, decided on and recorded. */
  private async planRescale(
    event: StoredEventOf<'job.metrics_reported'>,
    runId: string,
    job: JobState,
    check: RescaleCheck,
  ): Promise<void> {
    if (!check.movable) {
      // Moved as often as it may be: where it runs is where it ends, or its run stops now, while
      // what is left of the budget still pays for one more Spot interruption.
      const reserve =
        check.spotLossSeconds === undefined || job.pricePerHour == null
          ? 0
          : (check.spotLossSeconds * job.pricePerHour) / 3600;
      if (check.predictedCost !== null)
        await this.stopIfUnaffordable(event, runId, check, check.predictedCost + reserve, reserve);
      return;
    }
    let plan: CommandResult<'planRescale'>;
    try {
      plan = await this.commands.send('planRescale', {
        project: event.project,
        jobId: event.aggregateId,
        // The job's clock (a simulated node's is virtual), which its pace and deadline are on.
        now: check.now,
        stepsLeft: check.stepsLeft,
        lostSteps: check.lostSteps,
        stepsPerSecond: check.stepsPerSecond,
        startupSeconds: check.startupSeconds,
        spent: check.spent,
        finishBy: check.finishBy,
        maxCost: check.maxCost,
        ...(check.spotLossSeconds === undefined ? {} : { spotLossSeconds: check.spotLossSeconds }),
      });
    } catch (error) {
      // It ended while its report waited here (or runs where no configuration is known): nothing
      // to move, and no reason to give the report up as a dead letter.
      if (!isProblem(error, ProvisioningProblems.NO_CONFIGURATION)) throw error;
      this.logger.info(
        { runId, jobId: event.aggregateId, reason: error.message },
        'job predicted to miss its share cannot be planned again; it stays',
      );
      return;
    }
    if (plan.decision === 'stay' || plan.to === null) {
      this.logger.info(
        { runId, jobId: event.aggregateId, misses: check.misses, reason: plan.reason },
        'job predicted to miss its share; it stays',
      );
      if (check.misses === 'budget') {
        // The provisioner's least cost holds back one more Spot interruption (an older one's does
        // not); held back for an interruption only where staying is cheapest.
        const least =
          plan.leastCost ??
          Math.min(
            ...[plan.from.predictedCost, ...plan.alternatives.map((a) => a.predictedCost)].filter(
              (c): c is number => c !== null,
            ),
          );
        const reserve = plan.from.spotReserve ?? 0;
        const heldOnStay =
          Math.abs((plan.from.predictedCost ?? Number.NaN) + reserve - least) < 1e-5;
        await this.stopIfUnaffordable(event, runId, check, least, heldOnStay ? reserve : 0);
      }
      this.stayed.delete(event.aggregateId);
      this.stayed.set(event.aggregateId, {
        attempt: job.attempt,
        now: check.now,
        predictedFinish: check.predictedFinish,
        predictedCost: check.predictedCost,
      });
      // At most the last 10,000 (the oldest first out): a forgotten one is only asked again.
      if (this.stayed.size > 10_000) this.stayed.delete(this.stayed.keys().next().value!);
      return;
    }
    const to = plan.to;
    const direction = plan.decision;
    const { state, events } = await this.jobs.execute(
      event.project,
      event.aggregateId,
      (s) =>
        jobDecider.decide(
          {
            kind: 'request_rescale',
            data: {
              attempt: job.attempt,
              direction,
              reason: plan.reason,
              finishBy: check.finishBy,
              maxCost: check.maxCost,
              from: plan.from,
              to,
              measurements: {
                step: check.step,
                totalSteps: check.totalSteps,
                stepsPerSecond: check.stepsPerSecond,
                checkpointStep: check.checkpointStep,
                startupSeconds: check.startupSeconds,
                spent: check.spent,
                basis: check.basis,
              },
              alternatives: plan.alternatives,
              graceSeconds: RESCALE_GRACE_SECONDS,
            },
          },
          s,
        ),
      { correlationId: runId, causationId: event.id },
    );
    if (events.length === 0 || state.rescale == null) return;
    this.logger.info(
      { runId, jobId: event.aggregateId, direction, from: plan.from.name, to: to.name },
      'job rescaled: asking it to checkpoint and stop',
    );
    this.askToRescale(event.project, event.aggregateId, state.rescale);
  }

  /**
   * A job over its share of the budget that no configuration makes cheaper: if it costs more than
   * is left of the run's whole budget for it, the budget is exhausted and the run stops (its jobs
   * are cancelled, this one killed), rather than spend what it does not have.
   */
  private async stopIfUnaffordable(
    event: StoredEventOf<'job.metrics_reported'>,
    runId: string,
    check: RescaleCheck,
    /** The least it costs anywhere it could run, one more Spot interruption held back on Spot. */
    least: number,
    /** USD of `least` held back for that interruption. */
    reserve: number,
  ): Promise<void> {
    if (!Number.isFinite(least)) return;
    const { state, events } = await this.runs.execute(
      event.project,
      runId,
      (s) =>
        runDecider.decide(
          {
            kind: 'overspend',
            jobId: event.aggregateId,
            now: new Date(),
            predictedCost: least,
            ...(reserve > 0 ? { spotReserve: reserve } : {}),
            basis: check.basis,
          },
          s,
        ),
      { correlationId: runId, causationId: event.id },
    );
    if (events.length === 0) return;
    this.logger.warn({ runId, jobId: event.aggregateId }, 'run budget exhausted by a running job');
    await this.advance(event.project, runId, state, event);
  }

  private askToRescale(project: string, jobId: string, pending: PendingRescale): void {
    this.control.rescale({
      project,
      jobId,
      attempt: pending.attempt,
      reason: pending.reason,
      graceSeconds: pending.graceSeconds,
    });
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
      retries: state.retries,
      retry: state.retry,
      checkpoint: state.checkpoint,
      code: state.code ?? null,
    });
  }

  @OnEvent('job.succeeded')
  async onSucceeded(@Payload() event: StoredEventOf<'job.succeeded'>): Promise<void> {
    await this.settle(event, 'succeeded');
  }

  /** A job that took an earlier result instead of running succeeded, for its run. */
  @OnEvent('job.reused')
  async onReused(@Payload() event: StoredEventOf<'job.reused'>): Promise<void> {
    await this.settle(event, 'succeeded');
  }

  @OnEvent('job.failed')
  async onFailed(@Payload() event: StoredEventOf<'job.failed'>): Promise<void> {
    await this.settle(event, 'failed');
  }

  @OnEvent('job.cancelled')
  async onCancelled(@Payload() event: StoredEventOf<'job.cancelled'>): Promise<void> {
    // A trial its early-stopping rule stopped did what its sweep asked: it does not fail the run.
    await this.settle(event, event.data.earlyStopped === undefined ? 'cancelled' : 'early_stopped');
  }

  /** A job its run's reuse plan left out (`notNeeded`) was not needed: that is no failure. */
  @OnEvent('job.skipped')
  async onSkipped(@Payload() event: StoredEventOf<'job.skipped'>): Promise<void> {
    await this.settle(event, event.data.notNeeded === undefined ? 'skipped' : 'not_needed');
  }

  /**
   * A failed attempt is retried: once its wait is over the job is queued again (the provisioner
   * places it, as it did the first time). Until then the event is handed back to JetStream, which
   * delivers it again when it is due: the due time is the event's own time plus its delay, so a
   * scheduler that restarts meanwhile, or a delivery that comes early, waits just as long.
   */
  @OnEvent('job.retry_scheduled')
  async onRetryScheduled(@Payload() event: StoredEventOf<'job.retry_scheduled'>): Promise<void> {
    const { state } = await this.jobs.load(event.project, event.aggregateId);
    if (state.status !== 'retrying' || state.retry !== event.data.retry) return;
    const dueInMs = retryDueInMs(event.occurredAt, event.data.delayMs, new Date());
    if (dueInMs > 0) throw new HandleLater(dueInMs);
    await this.jobs.execute(
      event.project,
      event.aggregateId,
      (s) => jobDecider.decide({ kind: 'requeue', retry: event.data.retry }, s),
      { correlationId: event.correlationId, causationId: event.id },
    );
    this.logger.info(
      { jobId: event.aggregateId, runId: event.correlationId, retry: event.data.retry },
      'job queued again for its retry',
    );
  }

  private async settle(event: StoredEvent, outcome: JobOutcome): Promise<void> {
    const runId = event.correlationId;
    if (runId === null) return;
    const measured = await this.measure(event.project, runId, event.aggregateId);
    const { state } = await this.runs.execute(
      event.project,
      runId,
      (s) =>
        runDecider.decide(
          {
            kind: 'settle_job',
            jobId: event.aggregateId,
            outcome,
            ...(measured === undefined ? {} : { measured }),
          },
          s,
        ),
      { correlationId: runId, causationId: event.id },
    );
    const run = await this.completeSweeps(event.project, runId, state, event);
    await this.advance(event.project, runId, run, event);
  }

  /**
   * Completes each sweep whose trials have all ended: its best trial, by the objective's last
   * value among those that succeeded (read from the trials' own events), goes in the run's log,
   * and the run ends if nothing else is left. Returns the run as it is then.
   */
  private async completeSweeps(
    project: string,
    runId: string,
    run: RunState,
    cause: StoredEvent,
  ): Promise<RunState> {
    let state = run;
    for (const sweep of sweepsToComplete(run)) {
      const trials = [];
      for (const id of sweep.trials) {
        // Each trial's end is in the log (the run settled it); the cache may not have seen it.
        const { state: job } = await this.jobs.refresh(project, id);
        const planned = run.jobs.find((j) => j.id === id);
        trials.push({
          jobId: id,
          name: planned?.name ?? id,
          params: planned?.trial?.params ?? {},
          outcome: run.outcomes[id],
          series: job.objectiveSeries ?? [],
        });
      }
      const best = bestTrial(sweep, trials);
      ({ state } = await this.runs.execute(
        project,
        runId,
        (s) => runDecider.decide({ kind: 'complete_sweep', step: sweep.step, best }, s),
        { correlationId: runId, causationId: cause.id },
      ));
      this.logger.info(
        { runId, step: sweep.step, best: best?.name ?? null, value: best?.value ?? null },
        'sweep completed',
      );
    }
    return state;
  }

  /**
   * What an ended job of a run with limits ran for and cost (its attempts' running time at the price
   * of the configuration each ran on), read from the job's log; undefined for a run without limits
   * and for a job no attempt of which ended (a job cancelled while running counts the attempts that
   * ended before, not the one stopped: its executor reports no running time).
   */
  private async measure(
    project: string,
    runId: string,
    jobId: string,
  ): Promise<{ seconds: number; cost: number } | undefined> {
    const { state: run } = await this.runs.load(project, runId);
    if (run.limits === null || run.phase === 'none') return undefined;
    // Its end is what is being handled: the cache may not have seen it yet.
    const { state } = await this.jobs.refresh(project, jobId);
    // A job that never ran (skipped, cancelled while queued) cost nothing and is not counted.
    return state.spent;
  }

  /**
   * A ready job of a run with a deadline or budget gets its share of what is left of them, from a
   * re-plan of the steps not budgeted yet made now (spent money measured, running steps' predicted
   * cost held back); or the run's budget is exhausted. Returns the run as it is after.
   */
  private async budget(
    project: string,
    run: RunState,
    runId: string,
    job: PlannedJob,
    options: { correlationId: string; causationId: string },
  ): Promise<RunState> {
    if (run.limits === null || run.shares[job.id] !== undefined) return run;
    const now = new Date();
    const left = remainingLimits(run, now);
    const deadline = run.limits.deadline === null ? null : new Date(run.limits.deadline);
    let plan: { predictedFinish: string | null; predictedCost: number | null };
    let step: StepPlan | undefined;
    try {
      const estimate = await this.estimate(project, unbudgetedJobs(run), now, deadline, {
        budget: left.budget,
      });
      plan = estimate;
      step = estimate.steps.find((s) => s.name === job.name);
    } catch (error) {
      // Worth another try later (the provisioner is down or behind): the event is redelivered.
      // A refusal that will not change (an input deleted since submission) must not hold the run
      // up: the step gets no share, says why, and goes on to be queued (or to fail) as it would.
      if (!(error instanceof AcaiError) || error.retryable) throw error;
      plan = { predictedFinish: null, predictedCost: null };
      step = unplanned(job.name, error.message);
    }
    if (step === undefined) return run;
    const { state, events } = await this.runs.execute(
      project,
      runId,
      (s) =>
        runDecider.decide(
          {
            kind: 'budget_step',
            jobId: job.id,
            now,
            step,
            plan: { predictedFinish: plan.predictedFinish, predictedCost: plan.predictedCost },
          },
          s,
        ),
      options,
    );
    for (const event of events) {
      if (event.type === 'run.budget_exhausted') {
        this.logger.warn({ runId, project, ...event.data }, 'run budget exhausted');
      } else if (event.type === 'run.step_budgeted') {
        this.logger.info(
          { runId, project, jobId: job.id, share: event.data.share },
          'step budgeted',
        );
      }
    }
    return state;
  }

  /** Queues the jobs that became ready, and skips or cancels the ones that can no longer run. */
  private async advance(
    project: string,
    runId: string,
    initial: RunState,
    cause: StoredEvent,
  ): Promise<void> {
    const options = { correlationId: runId, causationId: cause.id };
    let run = initial;
    // A step that was to take an earlier result but computes after all calls back the steps the
    // reuse plan left out that it reads: they are ready now, so the ready jobs are looked at again.
    for (let revised = true; revised && run.phase === 'active';) {
      revised = false;
      for (const job of readyJobs(run)) {
        const { state } = await this.jobs.load(project, job.id);
        if (state.status !== 'none') continue;
        run = await this.budget(project, run, runId, job, options);
        // The budget ran out: nothing more is queued, and the jobs left are cancelled below.
        if (run.phase !== 'active') break;
        const decided = await this.decideReady(project, runId, run, job, options, cause);
        run = decided.run;
        revised ||= decided.revised;
      }
    }
    for (const out of jobsToLeaveOut(run)) {
      await this.jobs.execute(
        project,
        out.job.id,
        (s) =>
          jobDecider.decide(
            { kind: 'leave_out', reason: out.reason, step: out.step, from: out.from },
            s,
          ),
        options,
      );
    }
    for (const { job, action, step, reason } of jobsToStop(run)) {
      let mayRun = false;
      const { events } = await this.jobs.execute(
        project,
        job.id,
        (s) => {
          // Only a job an executor may have taken needs telling to stop.
          mayRun = s.status === 'dispatched' || s.status === 'running';
          return jobDecider.decide(
            action === 'skip' && step !== null
              ? { kind: 'skip', reason, step }
              : { kind: 'cancel', reason },
            s,
          );
        },
        options,
      );
      if (events.length > 0 && mayRun) this.killIfRunning(project, job.id, reason);
    }
  }

  /**
   * A ready job: failed if an input cannot be staged, reused if an earlier result with its
   * signature is intact, queued otherwise. One that reads a step the reuse plan left out is signed
   * with that step's earlier versions (from the plan) and can only take an earlier result: if it
   * cannot (evicted, damaged, not found), the steps left out that it reads are called back
   * (`run.reuse_plan_revised`, saying why) and it waits for them. Returns the run as it is after,
   * and whether the plan was revised.
   */
  private async decideReady(
    project: string,
    runId: string,
    run: RunState,
    job: PlannedJob,
    options: { correlationId: string; causationId: string },
    cause: StoredEvent,
  ): Promise<{ run: RunState; revised: boolean }> {
    const share = run.shares[job.id]?.share ?? null;
    const inputs = await this.resolveInputs(project, run, job);
    if ('recall' in inputs) return this.revisePlan(project, runId, job, inputs.recall, options);
    const reuse =
      'failure' in inputs
        ? null
        : // Provenance answers once it has applied the event that made the job ready.
          await this.reuse.decide(project, runId, job, inputs.staged, cause.position.seq);
    if ('staged' in inputs && inputs.planned.length > 0 && reuse?.kind === 'compute') {
      const recall = { jobIds: inputs.planned, reason: reuse.reuse.reason };
      return this.revisePlan(project, runId, job, recall, options);
    }
    await this.jobs.execute(
      project,
      job.id,
      (s) =>
        'failure' in inputs
          ? jobDecider.decide({ kind: 'fail', data: inputs.failure }, s)
          : reuse?.kind === 'reuse'
            ? jobDecider.decide({ kind: 'reuse', data: reuse.data }, s)
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
                    provision: limitedProvision(job.provision, share),
                    retries: job.retries,
                    ...(run.priority === 0 ? {} : { priority: run.priority }),
                    ...(run.maxParallel === null ? {} : { maxParallel: run.maxParallel }),
                    ...(share === null ? {} : { share }),
                    ...(job.trial === undefined || job.trial === null ? {} : { trial: job.trial }),
                    ...(reuse === null ? {} : { signature: reuse.signature, reuse: reuse.reuse }),
                    ...(job.quality === undefined ? {} : { quality: job.quality }),
                  },
                },
                s,
              ),
      options,
    );
    return { run, revised: false };
  }

  /** Calls back the steps left out that `job` reads: it computes after all (`recall.reason`). */
  private async revisePlan(
    project: string,
    runId: string,
    job: PlannedJob,
    recall: { jobIds: string[]; reason: string },
    options: { correlationId: string; causationId: string },
  ): Promise<{ run: RunState; revised: boolean }> {
    const { state, events } = await this.runs.execute(
      project,
      runId,
      (s) =>
        runDecider.decide(
          { kind: 'revise_plan', jobIds: recall.jobIds, neededBy: job.id, reason: recall.reason },
          s,
        ),
      options,
    );
    if (events.length > 0) {
      this.logger.info(
        { runId, project, jobId: job.id, needs: recall.jobIds, reason: recall.reason },
        'a step that was to take an earlier result computes: the steps the reuse plan left out that it reads run first',
      );
    }
    return { run: state, revised: events.length > 0 };
  }

  /**
   * Pins each input to a version now, when the job is queued (`latest` and labels move later):
   * the job runs on exactly these, and its history says which. An input that is another step's
   * output is the version that step's job committed in this run (from its `job.succeeded`), never
   * the file set's latest, which a concurrent run may have moved. An input that does not exist
   * fails the job, with the reason.
   */
  private async resolveInputs(
    project: string,
    run: RunState,
    job: PlannedJob,
  ): Promise<
    | { staged: StagedInput[]; planned: string[] }
    | { failure: EventData<'job.failed'> }
    | { recall: { jobIds: string[]; reason: string } }
  > {
    const staged: StagedInput[] = [];
    // The steps left out by the reuse plan whose earlier versions it reads.
    const planned: string[] = [];
    for (const input of job.inputs) {
      const fromPlan =
        'fromStep' in input ? plannedOutput(run, input.fromStep, input.fileset) : undefined;
      if ('fromStep' in input && fromPlan !== undefined) {
        planned.push(run.jobs.find((j) => j.name === input.fromStep)!.id);
      }
      const wanted =
        fromPlan !== undefined
          ? {
              version: fromPlan.version,
              what: `${input.fileset}@${fromPlan.version} (the earlier result of job ${fromPlan.from ?? 'unknown'}, which the reuse plan takes for step '${'fromStep' in input ? input.fromStep : ''}')`,
            }
          : 'fromStep' in input
            ? await this.committedBy(project, run, input.fromStep, input.fileset)
            : { version: input.version, what: `${input.fileset}@${input.version}` };
      if ('failure' in wanted)
        return { failure: failedBeforeAnyAttempt('staging_failed', wanted.failure) };
      try {
        const version = await this.commands.send('getVersion', {
          project,
          name: input.fileset,
          version: wanted.version,
        });
        // A version from the plan only signs the job: it is staged only if the job computes, and
        // then its step is called back and the job waits for the version it commits instead.
        if (version.evicted && fromPlan === undefined) {
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
        // Anything else the catalog refused will not change: the job fails, saying why; but a
        // version from the plan that is gone only means its step runs after all.
        if (!(error instanceof AcaiError) || error.retryable) throw error;
        if (fromPlan !== undefined) {
          return {
            recall: {
              jobIds: [...new Set(planned)],
              reason: `input ${wanted.what} cannot be read (${error.message}), so it is computed`,
            },
          };
        }
        return {
          failure: failedBeforeAnyAttempt(
            'staging_failed',
            `input ${wanted.what}: ${error.message}`,
          ),
        };
      }
    }
    return { staged, planned: [...new Set(planned)] };
  }

  /**
   * The version of `fileset` the job of step `step` of this run committed when it succeeded; for a
   * swept step, the one its best trial committed.
   */
  private async committedBy(
    project: string,
    run: RunState,
    step: string,
    fileset: string,
  ): Promise<{ version: number; what: string } | { failure: string }> {
    const swept = run.sweeps.some((s) => s.step === step);
    const best = run.sweepResults[step];
    if (swept && (best === undefined || best === null)) {
      return { failure: `step '${step}' is a sweep with no best trial` };
    }
    const producer = run.jobs.find((j) => (swept ? j.id === best?.jobId : j.name === step));
    if (producer === undefined) return { failure: `step '${step}' is not a step of this run` };
    // Its end is in the log (the run settled it), but the cache may not have seen it yet.
    const { state } = await this.jobs.refresh(project, producer.id);
    const output = state.committed.find((o) => o.fileset === fileset);
    if (state.status !== 'succeeded' || output === undefined) {
      return {
        failure: `input '${fileset}' from step '${step}': that step ${state.status === 'succeeded' ? `committed no version of '${fileset}'` : `is ${state.status}`}`,
      };
    }
    return {
      version: output.version,
      what: `${fileset}@${output.version} (the output of step '${step}'${swept ? `, its best trial ${producer.name}` : ''})`,
    };
  }

  /** Tells every executor to stop the job's process if it runs it. */
  private killIfRunning(project: string, jobId: string, reason: string): void {
    this.control.cancel({ project, jobId, reason });
  }
}

/**
 * Whether an earlier result may be taken for the job, as far as its spec says (its code is hashed
 * only by the plan): not a sweep trial, not `reuse: never`, and, unless `reuse: always`,
 * deterministic and saving an output (see `whyNotReusable`).
 */
function mayBeReused(job: PlannedJob): boolean {
  const policy = job.reuse?.policy ?? 'auto';
  if (job.trial != null || policy === 'never') return false;
  return (
    policy === 'always' ||
    (!(job.reuse?.nondeterministic ?? false) &&
      job.outputs.length > 0 &&
      job.outputs.every((o) => o.save))
  );
}

/** A run, a job, with no events. */
const newRun = () => ({ version: 0, state: runDecider.initialState() });
const newJob = () => ({ version: 0, state: jobDecider.initialState() });

/** A planned job as the provisioner's run planner takes it. */
function toEstimate(job: PlannedJob): StepToEstimate {
  const producers = job.inputs.flatMap((i) => ('fromStep' in i ? [i.fromStep] : []));
  return {
    name: job.name,
    needs: [...new Set([...job.needs, ...producers])],
    command: [...job.command],
    env: { ...job.env },
    resources: job.resources,
    inputs: job.inputs.flatMap((i) =>
      'fromStep' in i ? [] : [{ fileset: i.fileset, version: i.version }],
    ),
    provision: job.provision,
  };
}

/** A step the provisioner could not plan: no prediction and no share, with the reason. */
function unplanned(name: string, why: string): StepPlan {
  return {
    name,
    needs: [],
    basis: 'impossible',
    configuration: null,
    predictedSeconds: null,
    predictedCost: null,
    start: null,
    finish: null,
    critical: false,
    share: null,
    cheapestCost: 0,
    fastestSeconds: null,
    success: false,
    reason: `it could not be planned: ${why}`,
  };
}
