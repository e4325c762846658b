import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  AcaiError,
  ErrorCode,
  FilesetProblems,
  JOB,
  ProvisioningProblems,
  RunProblems,
  type CommandResult,
  type NewEvent,
  type RunSpec,
  type StoredEvent,
  type StoredEventOf,
} from '@acai/contracts';
import { HandleLater, silentLogger } from '@acai/eventing';
import { jobDecider } from '@acai/runs';
import { plannedJob, queuedJob } from '@acai/testkit';
import {
  FakeCommands,
  InMemoryEventLog,
  RecordingJobControl,
  RecordingWorkQueue,
} from '@acai/eventing/testing';
import type { EventLog } from '@acai/eventing';
import { JobRepository } from './job.repository.js';
import { RunRepository } from './run.repository.js';
import { RunsHandler } from './runs.handler.js';

const PROJECT = 'p1';
const MANIFEST = 'a'.repeat(64);

/**
 * The scheduler's run workflow with every collaborator in memory: the event log, the work
 * queue, job control and the other services. `deliver` plays the transport, handing each new
 * event to the handler method bound to its type, as the scheduler's consumers do; events of the
 * provisioner and the executor are seeded as they would arrive from them.
 */
describe('the scheduler’s run workflow', () => {
  let log: InMemoryEventLog;
  let runs: RunRepository;
  let jobs: JobRepository;
  let work: RecordingWorkQueue;
  let control: RecordingJobControl;
  let commands: FakeCommands;
  let handler: RunsHandler;
  let delivered: number;

  beforeEach(() => {
    log = new InMemoryEventLog('scheduler');
    runs = new RunRepository(log);
    jobs = new JobRepository(log);
    work = new RecordingWorkQueue();
    control = new RecordingJobControl();
    commands = new FakeCommands()
      .on('checkResources', () => ({ ok: true }))
      .on('getVersion', (req) => {
        if (req.name === 'missing') {
          throw new AcaiError(
            FilesetProblems.FILESET_NOT_FOUND,
            `No file set '${req.name}' in this project`,
          );
        }
        return {
          fileset: req.name,
          version: 3,
          parent: 2,
          files: 1,
          bytes: 10,
          manifestSha256: MANIFEST,
          metadata: {},
          labels: [],
          pinned: false,
          evicted: false,
          createdBy: { kind: 'key', keyId: 'k' },
        };
      });
    handler = new RunsHandler(runs, jobs, work, control, commands, silentLogger);
    delivered = 0;
  });

  /** Hands every event not yet delivered to the handler, until none is left. */
  async function deliver(): Promise<void> {
    while (delivered < log.lastSeq) {
      const event = log.all()[delivered]!;
      delivered += 1;
      runs.observe(event);
      jobs.observe(event);
      await route(event);
    }
  }

  async function route(event: StoredEvent): Promise<void> {
    switch (event.type) {
      case 'run.submitted':
        return handler.onSubmitted(event);
      case 'run.cancel_requested':
        return handler.onCancelRequested(event);
      case 'run.job_settled':
        return handler.onJobSettled(event);
      case 'job.provisioned':
        return releaseAtOnce(event);
      case 'job.dispatched':
        return handler.onDispatched(event);
      case 'job.succeeded':
        return handler.onSucceeded(event);
      case 'job.reused':
        return handler.onReused(event);
      case 'job.failed':
        return handler.onFailed(event);
      case 'job.cancelled':
        return handler.onCancelled(event);
      case 'job.skipped':
        return handler.onSkipped(event);
      case 'job.retry_scheduled':
        return handler.onRetryScheduled(event);
      case 'job.metrics_reported':
        return handler.onMetricsReported(event);
      default:
        return;
    }
  }

  /**
   * What the dispatcher (`src/dispatch/`) does with a placed job when its pool has a free slot:
   * these tests are about the run workflow, so every slot is free.
   */
  async function releaseAtOnce(event: StoredEventOf<'job.provisioned'>): Promise<void> {
    await jobs.execute(
      event.project,
      event.aggregateId,
      (s) => jobDecider.decide({ kind: 'dispatch', pool: event.data.pool }, s),
      { correlationId: event.correlationId, causationId: event.id },
    );
  }

  /** What the provisioner records for a queued job. */
  async function provision(jobId: string, runId: string): Promise<void> {
    await log.seed(
      { project: PROJECT, aggregate: JOB, id: jobId },
      jobDecider.decide(
        {
          kind: 'provision',
          data: {
            provider: 'local',
            pool: 'local',
            resources: { cpu: 1, memoryMb: 512 },
            reason: 'as requested',
            offer: null,
            decision: null,
          },
        },
        (await jobs.load(PROJECT, jobId)).state,
      ),
      runId,
    );
  }

  /** What an executor records for a job it ran: started, then how it ended. */
  async function run(jobId: string, runId: string, ok: boolean): Promise<void> {
    const ref = { project: PROJECT, aggregate: JOB, id: jobId };
    const started = jobDecider.decide(
      { kind: 'start', executor: 'node-1', pid: 7 },
      (await jobs.load(PROJECT, jobId)).state,
    );
    await log.seed(ref, started, runId);
    await deliver();
    const attempt = (await jobs.load(PROJECT, jobId)).state.attempt;
    const ended = jobDecider.decide(
      ok
        ? { kind: 'succeed', attempt, durationMs: 5, outputs: [] }
        : {
            kind: 'fail',
            data: {
              reason: 'nonzero_exit',
              message: 'the process exited with code 1',
              exitCode: 1,
              signal: null,
              durationMs: 5,
              lastLines: [],
              attempt,
            },
          },
      (await jobs.load(PROJECT, jobId)).state,
    );
    await log.seed(ref, ended, runId);
    await deliver();
  }

  const spec = (steps: RunSpec['steps']): RunSpec => ({ name: 'r', steps });

  /** Steps a then b, each with a size parameter the (faked) planner predicts. */
  const modelledPair = (): RunSpec['steps'] => [
    { name: 'a', command: ['train'], env: { N: '1' }, provision: { sizeParameters: ['N'] } },
    {
      name: 'b',
      command: ['train'],
      env: { N: '1' },
      needs: ['a'],
      provision: { sizeParameters: ['N'] },
    },
  ];

  describe('a run with a budget', () => {
    /**
     * The provisioner's planner, faked: every step costs at least $0.50, and gets an equal share
     * of what is left of the budget.
     */
    beforeEach(() => {
      commands.on('estimateRun', (req) => {
        const now = req.now;
        return {
          now,
          steps: req.steps.map((s) => ({
            name: s.name,
            needs: s.needs,
            basis: 'model' as const,
            configuration: null,
            predictedSeconds: 3600,
            predictedCost: 0.5,
            start: now,
            finish: now,
            critical: true,
            share: {
              maxSeconds: null,
              maxCost:
                req.budget === null || req.budget <= 0 ? null : req.budget / req.steps.length,
              optimize: null,
              reason: `step '${s.name}': money: an equal share`,
            },
            cheapestCost: 0.5,
            fastestSeconds: 3600,
            success: true,
            reason: 'fake',
          })),
          criticalPath: req.steps.map((s) => s.name),
          complete: true,
          predictedFinish: now,
          predictedSeconds: 3600 * req.steps.length,
          predictedCost: 0.5 * req.steps.length,
          cheapestCost: 0.5 * req.steps.length,
          deadline: null,
          budget: null,
          alternatives: [],
          summary: 'fake',
        };
      });
    });

    /** The provisioner placed the job on a $1/h configuration; it then ran for `hours`. */
    async function runForAnHour(jobId: string, runId: string, hours = 1): Promise<void> {
      const ref = { project: PROJECT, aggregate: JOB, id: jobId };
      const state = (await jobs.load(PROJECT, jobId)).state;
      await log.seed(
        ref,
        jobDecider.decide(
          {
            kind: 'provision',
            data: {
              provider: 'simulated',
              pool: 'simulated-c5-large',
              resources: { cpu: 2, memoryMb: 4096 },
              reason: 'within its share',
              offer: {
                provider: 'simulated',
                name: 'c5.large',
                vCpu: 2,
                memoryMb: 4096,
                pricePerHour: 1,
              },
              decision: null,
              ...(state.share == null ? {} : { share: state.share }),
            },
          },
          state,
        ),
        runId,
      );
      await deliver();
      const dispatched = (await jobs.load(PROJECT, jobId)).state;
      await log.seed(
        ref,
        jobDecider.decide({ kind: 'start', executor: 'i-1', pid: null }, dispatched),
        runId,
      );
      await deliver();
      const running = (await jobs.load(PROJECT, jobId)).state;
      await log.seed(
        ref,
        jobDecider.decide(
          { kind: 'succeed', attempt: running.attempt, durationMs: hours * 3_600_000, outputs: [] },
          running,
        ),
        runId,
      );
      await deliver();
    }

    it('budgets each step before queueing it, applies its share, counts what it cost, and stops the run when the rest cannot pay for the next', async () => {
      const steps = modelledPair();
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: 'key-1',
        spec: { name: 'r', steps, budget: 1.2 },
      });
      await deliver();
      const [a, b] = planned;
      expect((await runs.load(PROJECT, id)).state.limits).toMatchObject({
        budget: 1.2,
        cheapestCost: 1,
      });
      expect(log.typesSince()).toEqual(['run.submitted', 'run.step_budgeted', 'job.queued']);
      // Its share, $0.60 of $1.20, is the auto-provisioner's budget for it.
      const queued = log.ofType('job.queued')[0]!.data;
      expect(queued.provision).toEqual({ sizeParameters: ['N'], maxCost: 0.6 });
      expect(queued.share).toMatchObject({ maxCost: 0.6 });

      await runForAnHour(a!.id, id);
      // It cost $1 (an hour at $1/h): $0.20 is left, less than b's cheapest, $0.50.
      expect(log.ofType('run.job_cost_measured').map((e) => e.data)).toEqual([
        { jobId: a!.id, name: 'a', seconds: 3600, cost: 1 },
      ]);
      const exhausted = log.ofType('run.budget_exhausted');
      expect(exhausted.map((e) => e.data)).toEqual([
        expect.objectContaining({
          jobId: b!.id,
          budget: 1.2,
          spent: 1,
          cheapestCost: 0.5,
          reason: expect.stringContaining("budget exhausted: step 'b' costs at least $0.5"),
        }),
      ]);
      expect(log.ofType('job.queued')).toHaveLength(1);
      expect(log.ofType('job.cancelled').map((e) => e.aggregateId)).toEqual([b!.id]);
      expect(log.ofType('run.failed').map((e) => e.data.reason)).toEqual([
        exhausted[0]!.data.reason,
      ]);

      // Every event delivered again (a redelivery) decides nothing more.
      const before = log.lastSeq;
      for (const event of log.all()) await route(event);
      expect(log.lastSeq).toBe(before);
    });

    it('re-plans from what is actually left: a step that cost less than its share leaves more to the next', async () => {
      const steps = modelledPair();
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: { name: 'r', steps, budget: 2, deadline: '1h' },
      });
      await deliver();
      const [a, b] = planned;
      // a is budgeted while b is still to come: half of $2.
      expect(log.ofType('run.step_budgeted')[0]!.data).toMatchObject({
        jobId: a!.id,
        share: { maxCost: 1 },
        remainingBudget: 2,
        spent: 0,
        remainingSeconds: expect.closeTo(3600, -1),
      });
      await runForAnHour(a!.id, id, 0.25);
      // It cost $0.25 of its $1: b gets all of the $1.75 left, measured, not predicted.
      expect(log.ofType('run.step_budgeted')[1]!.data).toMatchObject({
        jobId: b!.id,
        share: { maxCost: 1.75 },
        remainingBudget: 1.75,
        spent: 0.25,
        reserved: 0,
      });
      expect(log.ofType('job.queued')[1]!.data.provision).toMatchObject({ maxCost: 1.75 });
      await runForAnHour(b!.id, id, 0.5);
      expect(log.ofType('run.succeeded')).toHaveLength(1);
      expect(log.ofType('run.job_cost_measured').map((e) => e.data.cost)).toEqual([0.25, 0.5]);
    });

    it('does not hold a run up when a step cannot be planned any more: it goes on without a share, saying why', async () => {
      const { id } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: {
          name: 'r',
          steps: [
            {
              name: 'a',
              command: ['train'],
              env: { N: '1' },
              provision: { sizeParameters: ['N'] },
            },
          ],
          budget: 2,
        },
      });
      // Between submission and placement the provisioner's answer changed for good.
      commands.on('estimateRun', () => {
        throw new AcaiError(FilesetProblems.FILESET_NOT_FOUND, "No file set 'raw' in this project");
      });
      await deliver();
      expect(log.ofType('run.step_budgeted')[0]!.data.share).toEqual({
        maxSeconds: null,
        maxCost: null,
        optimize: null,
        reason: "step 'a': no share (it could not be planned: No file set 'raw' in this project)",
        // The run has a budget and no deadline: nothing to finish by.
        finishBy: null,
      });
      expect(log.ofType('job.queued')).toHaveLength(1);
      expect((await runs.load(PROJECT, id)).state.phase).toBe('active');
    });

    it('refuses a budget below the cheapest plan before anything is recorded', async () => {
      await expect(
        handler.submit({
          project: PROJECT,
          submittedBy: 'key-1',
          spec: { name: 'r', steps: [{ name: 'a', command: ['train'] }], budget: 0.25 },
        }),
      ).rejects.toMatchObject({
        reason: 'RUN_BUDGET_BELOW_CHEAPEST_PLAN',
        code: ErrorCode.Unprocessable,
      });
      expect(log.lastSeq).toBe(0);
    });
  });

  it('queues steps in needs order, puts each provisioned job on its pool, and settles the run', async () => {
    const { id, jobs: planned } = await handler.submit({
      project: PROJECT,
      submittedBy: 'key-1',
      spec: spec([
        { name: 'train', command: ['train'], needs: ['prepare'] },
        { name: 'prepare', command: ['prepare'], inputs: [{ fileset: 'raw', version: 'latest' }] },
      ]),
    });
    await deliver();
    const [prepare, train] = planned;
    expect(planned.map((j) => j.name)).toEqual(['prepare', 'train']);
    // Only the step with nothing to wait for is queued, its input pinned to a version now.
    expect(log.typesSince()).toEqual(['run.submitted', 'job.queued']);
    expect(log.ofType('job.queued')[0]!.data.inputs).toEqual([
      { fileset: 'raw', version: 3, manifestSha256: MANIFEST, path: 'inputs/raw' },
    ]);

    await provision(prepare!.id, id);
    await deliver();
    // The work goes out once `job.dispatched` is stored, carrying its position.
    expect(log.ofType('job.dispatched')).toHaveLength(1);
    expect(work.published).toEqual([
      {
        pool: 'local',
        work: expect.objectContaining({
          jobId: prepare!.id,
          attempt: 1,
          dispatchedSeq: log.ofType('job.dispatched')[0]!.position.seq,
        }),
      },
    ]);

    await run(prepare!.id, id, true);
    expect(log.ofType('job.queued').map((e) => e.aggregateId)).toEqual([prepare!.id, train!.id]);
    await provision(train!.id, id);
    await deliver();
    await run(train!.id, id, true);
    expect(log.ofType('run.succeeded')).toHaveLength(1);
    expect((await runs.load(PROJECT, id)).state.phase).toBe('succeeded');
  });

  it('reads nothing from the log to accept a run and queue its first jobs: it named them itself', async () => {
    const reads = jest.spyOn(log, 'read');
    await handler.submit({
      project: PROJECT,
      submittedBy: 'key-1',
      spec: spec([
        { name: 'a', command: ['a'] },
        { name: 'b', command: ['b'] },
      ]),
    });
    await deliver();
    expect(log.typesSince()).toEqual(['run.submitted', 'job.queued', 'job.queued']);
    expect(reads).not.toHaveBeenCalled();
  });

  it('carries the run’s priority and maxParallel to each job it queues, for the dispatcher', async () => {
    await handler.submit({
      project: PROJECT,
      submittedBy: null,
      spec: { ...spec([{ name: 'a', command: ['a'] }]), priority: 20, maxParallel: 3 },
    });
    await handler.submit({
      project: PROJECT,
      submittedBy: null,
      spec: spec([{ name: 'b', command: ['b'] }]),
    });
    await deliver();
    expect(log.ofType('run.submitted').map((e) => [e.data.priority, e.data.maxParallel])).toEqual([
      [20, 3],
      [undefined, undefined],
    ]);
    const [ranked, plain] = log.ofType('job.queued');
    expect(ranked?.data).toMatchObject({ priority: 20, maxParallel: 3 });
    // A run that says nothing records nothing: its jobs read as priority 0, no limit.
    expect(plain?.data).not.toHaveProperty('priority');
    expect(plain?.data).not.toHaveProperty('maxParallel');
  });

  it('fails a step whose input does not exist before it runs, and skips what needed it', async () => {
    const { id, jobs: planned } = await handler.submit({
      project: PROJECT,
      submittedBy: null,
      spec: spec([
        { name: 'read', command: ['cat'], inputs: [{ fileset: 'missing', version: 'latest' }] },
        { name: 'after', command: ['true'], needs: ['read'] },
      ]),
    });
    await deliver();
    const failed = log.ofType('job.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.data).toMatchObject({
      reason: 'staging_failed',
      message: expect.stringContaining("input missing@latest: No file set 'missing'"),
    });
    expect(log.ofType('job.skipped').map((e) => [e.aggregateId, e.data])).toEqual([
      [planned[1]!.id, { reason: "step 'read', which it needs, failed", step: 'read' }],
    ]);
    expect(log.ofType('job.cancelled')).toEqual([]);
    expect(log.ofType('run.job_settled').map((e) => e.data.outcome)).toEqual(['failed', 'skipped']);
    expect(log.ofType('run.failed')).toHaveLength(1);
    expect(work.published).toEqual([]);
    expect((await runs.load(PROJECT, id)).state.phase).toBe('failed');
  });

  it('stages inputs again later when the catalog may answer then, and fails the step when it will not', async () => {
    const submitReading = () =>
      handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([
          { name: 'read', command: ['cat'], inputs: [{ fileset: 'data', version: 'latest' }] },
        ]),
      });
    // Retryable (the catalog is behind): the event is to be redelivered, nothing is recorded.
    commands.on('getVersion', () => {
      throw new AcaiError(FilesetProblems.CATALOG_BEHIND, 'The catalog is behind the event log');
    });
    await submitReading();
    await expect(deliver()).rejects.toMatchObject({
      reason: FilesetProblems.CATALOG_BEHIND.reason,
    });
    expect(log.ofType('job.failed')).toEqual([]);

    // Not retryable, whatever its category (this one is "unavailable"): the step fails before
    // it runs, saying why.
    commands.on('getVersion', () => {
      throw new AcaiError(
        { code: ErrorCode.Unavailable, reason: 'CATALOG_GONE', retryable: false },
        'the catalog is gone for good',
      );
    });
    delivered = 0;
    log = new InMemoryEventLog('scheduler');
    runs = new RunRepository(log);
    jobs = new JobRepository(log);
    handler = new RunsHandler(runs, jobs, work, control, commands, silentLogger);
    await submitReading();
    await deliver();
    expect(log.ofType('job.failed').map((e) => e.data)).toEqual([
      expect.objectContaining({
        reason: 'staging_failed',
        message: 'input data@latest: the catalog is gone for good',
      }),
    ]);
  });

  describe('retries', () => {
    const retried = (backoffSeconds: number): RunSpec =>
      spec([
        {
          name: 'flaky',
          command: ['flaky'],
          retries: { max: 1, backoffSeconds, on: ['nonzero_exit'] },
        },
      ]);

    it('queues a step that failed for a reason it retries again, as the next attempt of the same job, once its wait is over', async () => {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: retried(0),
      });
      const flaky = planned[0]!.id;
      await deliver();
      await provision(flaky, id);
      await deliver();
      await run(flaky, id, false);
      expect(log.ofType('job.retry_scheduled').map((e) => e.data)).toEqual([
        expect.objectContaining({ retry: 1, attempt: 1, reason: 'nonzero_exit', delayMs: 0 }),
      ]);
      // Not settled: the run waits for the retry.
      expect(log.ofType('run.job_settled')).toEqual([]);
      expect(log.ofType('job.requeued').map((e) => e.data)).toEqual([{ retry: 1 }]);

      await provision(flaky, id);
      await deliver();
      expect(work.published.map((w) => [w.work.jobId, w.work.attempt, w.work.retry])).toEqual([
        [flaky, 1, 0],
        [flaky, 2, 1],
      ]);
      await run(flaky, id, true);
      expect(log.typesSince().filter((t) => t.startsWith('job.'))).toEqual([
        'job.queued',
        'job.provisioned',
        'job.dispatched',
        'job.started',
        'job.retry_scheduled',
        'job.requeued',
        'job.provisioned',
        'job.dispatched',
        'job.started',
        'job.succeeded',
      ]);
      expect((await runs.load(PROJECT, id)).state.phase).toBe('succeeded');
    });

    it('hands a retry that is not due back to the bus, to be delivered when it is, and queues nothing', async () => {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: retried(60),
      });
      const flaky = planned[0]!.id;
      await deliver();
      await provision(flaky, id);
      await deliver();
      const later = await run(flaky, id, false).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(later).toBeInstanceOf(HandleLater);
      expect((later as HandleLater).delayMs).toBeGreaterThan(55_000);
      expect((later as HandleLater).delayMs).toBeLessThanOrEqual(60_000);
      expect(log.ofType('job.requeued')).toEqual([]);
    });

    it('does not queue a retry of a job cancelled while it waited', async () => {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: retried(60),
      });
      const flaky = planned[0]!.id;
      await deliver();
      await provision(flaky, id);
      await deliver();
      await run(flaky, id, false).catch(() => undefined);
      await handler.cancel({ project: PROJECT, runId: id, reason: 'by test' });
      await deliver();
      const retry = log.ofType('job.retry_scheduled')[0]!;
      await handler.onRetryScheduled(retry);
      expect(log.ofType('job.requeued')).toEqual([]);
      expect(log.ofType('run.cancelled')).toHaveLength(1);
    });
  });

  describe('skipped steps and continueOnFailure', () => {
    it('runs a step that continues on failure after the one it needs failed, and fails the run', async () => {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([
          { name: 'a', command: ['false'] },
          { name: 'report', command: ['report'], needs: ['a'], continueOnFailure: true },
          { name: 'b', command: ['b'], needs: ['a'] },
        ]),
      });
      const [a, report, b] = planned;
      await deliver();
      await provision(a!.id, id);
      await deliver();
      await run(a!.id, id, false);
      expect(log.ofType('job.queued').map((e) => e.aggregateId)).toEqual([a!.id, report!.id]);
      expect(log.ofType('job.skipped').map((e) => e.aggregateId)).toEqual([b!.id]);
      await provision(report!.id, id);
      await deliver();
      await run(report!.id, id, true);
      expect(log.ofType('run.failed').map((e) => e.data)).toEqual([
        { reason: 'step(s) failed: a', failedJobs: [a!.id] },
      ]);
    });
  });

  describe('reuse of earlier results', () => {
    const pipeline = () =>
      spec([
        { name: 'etl', command: ['sh', '-c', 'etl'], outputs: [{ fileset: 'data' }] },
        {
          name: 'train',
          command: ['sh', '-c', 'train'],
          inputs: [{ step: 'etl', output: 'data' }],
        },
      ]);
    const earlier = {
      jobId: 'job-earlier',
      runId: 'run-earlier',
      name: 'etl',
      outputs: [{ fileset: 'data', version: 7 }],
      durationMs: 90_000,
      pricePerHour: 0.4,
      reusedFrom: null,
    };

    it('takes an earlier result: the job ends reused, and its dependant stages those versions', async () => {
      const looked: unknown[] = [];
      commands
        .on('findReusable', (req) => {
          looked.push(req);
          return { results: req.excludeJobId === etlId ? [earlier] : [] };
        })
        .on('verifyVersion', (req) => ({
          fileset: req.name,
          version: req.version,
          intact: true,
          problem: null,
        }));
      let etlId = '';
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: pipeline(),
      });
      etlId = planned[0]!.id;
      await deliver();

      const etl = log.all().filter((e) => e.aggregateId === etlId);
      expect(etl.map((e) => e.type)).toEqual(['job.reused']);
      expect(etl[0]!.data).toMatchObject({
        outputs: [{ fileset: 'data', version: 7 }],
        from: { jobId: 'job-earlier', runId: 'run-earlier', savedSeconds: 90, savedCost: 0.01 },
        signature: { complete: expect.any(Boolean) },
      });
      expect(looked[0]).toMatchObject({ project: PROJECT, excludeJobId: etlId });
      // Its dependant is queued on the reused version, and computed (no earlier result).
      const queued = log.ofType('job.queued');
      expect(queued.map((e) => e.aggregateId)).toEqual([planned[1]!.id]);
      // (the catalog faked here answers every version as 3)
      expect(commands.sent.filter((c) => c.name === 'getVersion').map((c) => c.request)).toEqual([
        { project: PROJECT, name: 'data', version: 7 },
      ]);
      expect(queued[0]!.data.reuse).toEqual({
        policy: 'auto',
        reason: 'it saves no outputs: it is run for what it does (reuse: always would reuse it)',
      });
      expect(work.published).toHaveLength(0);
      expect((await runs.load(PROJECT, id)).state.outcomes[etlId]).toBe('succeeded');
    });

    describe('the reuse plan made at submit', () => {
      // etl -> train, both saving outputs, both computed before: train's result is taken, so
      // etl, which only train reads, is neither run nor taken.
      const chain = () =>
        spec([
          { name: 'etl', command: ['sh', '-c', 'etl'], outputs: [{ fileset: 'data' }] },
          {
            name: 'train',
            command: ['sh', '-c', 'train'],
            inputs: [{ step: 'etl', output: 'data' }],
            outputs: [{ fileset: 'model' }],
          },
        ]);
      const earlierTrain = {
        ...earlier,
        jobId: 'job-earlier-train',
        name: 'train',
        outputs: [{ fileset: 'model', version: 4 }],
      };
      let evicted: Set<string>;

      beforeEach(() => {
        evicted = new Set();
        // etl's signature is looked up first (it reads nothing), train's once etl's is found: by
        // the plan at submit a level at a time, by the run as each step is ready.
        const signatures: string[] = [];
        const resultOf = (signature: string) => {
          if (!signatures.includes(signature)) signatures.push(signature);
          return signatures.indexOf(signature) === 0 ? earlier : earlierTrain;
        };
        commands
          .on('findReusable', (req) => ({ results: [resultOf(req.signature)] }))
          .on('findReusableMany', (req) => ({
            results: req.lookups.map((l) => [resultOf(l.signature)]),
          }))
          .on('verifyVersion', (req) => {
            const gone = evicted.has(`${req.name}@${req.version}`);
            return {
              fileset: req.name,
              version: req.version,
              intact: !gone,
              problem: gone ? 'it was evicted: its files are gone' : null,
            };
          });
      });

      const typesOf = (jobId: string) =>
        log
          .all()
          .filter((e) => e.aggregateId === jobId)
          .map((e) => e.type);

      it('leaves out a step only a reused step reads: it never runs, the reader takes its earlier versions, and the run succeeds', async () => {
        const { id, jobs: planned } = await handler.submit({
          project: PROJECT,
          submittedBy: null,
          spec: chain(),
        });
        const [etl, train] = [planned[0]!.id, planned[1]!.id];
        await deliver();

        expect(log.ofType('run.submitted')[0]!.data.reusePlan).toEqual([
          expect.objectContaining({
            jobId: etl,
            decision: 'not_needed',
            from: 'job-earlier',
            outputs: [{ fileset: 'data', version: 7 }],
          }),
          expect.objectContaining({ jobId: train, decision: 'reuse', from: 'job-earlier-train' }),
        ]);
        expect(typesOf(etl)).toEqual(['job.skipped']);
        expect(log.ofType('job.skipped')[0]!.data).toEqual({
          reason:
            "not needed: only steps that take earlier results read it ('train'), so it was neither run nor taken",
          step: 'train',
          notNeeded: { from: 'job-earlier' },
        });
        expect(typesOf(train)).toEqual(['job.reused']);
        expect(log.ofType('job.reused')[0]!.data).toMatchObject({
          from: { jobId: 'job-earlier-train' },
          outputs: [{ fileset: 'model', version: 4 }],
        });
        // train is signed with the version etl's earlier result committed, not with any of its own.
        expect(commands.sent.filter((c) => c.name === 'getVersion').at(-1)?.request).toEqual({
          project: PROJECT,
          name: 'data',
          version: 7,
        });
        expect(log.ofType('job.queued')).toEqual([]);
        const { state } = await runs.load(PROJECT, id);
        expect(state.outcomes).toEqual({ [etl]: 'not_needed', [train]: 'succeeded' });
        expect(state.phase).toBe('succeeded');
      });

      it('runs a step left out after all when the reader’s earlier result is gone once it is ready, saying so', async () => {
        const { id, jobs: planned } = await handler.submit({
          project: PROJECT,
          submittedBy: null,
          spec: chain(),
        });
        const [etl, train] = [planned[0]!.id, planned[1]!.id];
        // Evicted between the plan and train being ready.
        evicted.add('model@4');
        await deliver();

        expect(log.ofType('run.reuse_plan_revised').map((e) => e.data)).toEqual([
          {
            jobId: etl,
            name: 'etl',
            neededBy: { jobId: train, name: 'train' },
            reason:
              'the earlier result of job job-earlier-train is not intact (model@4: it was evicted: its files are gone), so it is computed again',
          },
        ]);
        // etl takes its own earlier result (intact), and train computes from it.
        expect(typesOf(etl)).toEqual(['job.reused']);
        expect(typesOf(train)).toEqual(['job.queued']);
        expect(log.ofType('job.queued')[0]!.data.inputs).toEqual([
          expect.objectContaining({ fileset: 'data', version: 3 }),
        ]);
        expect(log.ofType('job.skipped')).toEqual([]);
        expect((await runs.load(PROJECT, id)).state.phase).toBe('active');
      });

      it('computes every step left out that a computing step needs, when their results are gone too', async () => {
        const { jobs: planned } = await handler.submit({
          project: PROJECT,
          submittedBy: null,
          spec: chain(),
        });
        evicted.add('model@4');
        evicted.add('data@7');
        await deliver();

        expect(typesOf(planned[0]!.id)).toEqual(['job.queued']);
        // train waits for etl's output in this run: nothing of it is decided yet.
        expect(typesOf(planned[1]!.id)).toEqual([]);
      });

      it('makes no plan, and looks nothing up at submit, for a run nothing of which may be reused', async () => {
        const never = chain();
        await handler.submit({
          project: PROJECT,
          submittedBy: null,
          spec: { ...never, reuse: 'never' },
        });
        await deliver();
        expect(commands.sent.filter((c) => c.name.startsWith('findReusable'))).toEqual([]);
        expect(log.ofType('run.submitted')[0]!.data.reusePlan).toBeUndefined();
      });
    });

    it('computes when the earlier result is no longer intact, saying why', async () => {
      commands
        .on('findReusable', () => ({ results: [earlier] }))
        .on('verifyVersion', (req) => ({
          fileset: req.name,
          version: req.version,
          intact: false,
          problem: 'it was evicted: its files are gone',
        }));
      const { jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: pipeline(),
      });
      await deliver();

      const queued = log.ofType('job.queued');
      expect(queued.map((e) => e.aggregateId)).toEqual([planned[0]!.id]);
      expect(queued[0]!.data.reuse?.reason).toBe(
        'the earlier result of job job-earlier is not intact (data@7: it was evicted: its files are gone), so it is computed again',
      );
      expect(queued[0]!.data.signature?.sha256).toMatch(/^[0-9a-f]{64}$/);
    });

    it('takes the newest intact result when a newer one was evicted', async () => {
      const evicted = {
        ...earlier,
        jobId: 'job-newer',
        outputs: [{ fileset: 'data', version: 9 }],
      };
      commands
        .on('findReusable', () => ({
          results: [evicted, { ...evicted, jobId: 'job-its-reuser' }, earlier],
        }))
        .on('verifyVersion', (req) => ({
          fileset: req.name,
          version: req.version,
          intact: req.version !== 9,
          problem: req.version === 9 ? 'it was evicted: its files are gone' : null,
        }));
      const { jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: pipeline(),
      });
      await deliver();

      const reused = log.ofType('job.reused');
      expect(reused.map((e) => e.aggregateId)).toEqual([planned[0]!.id]);
      expect(reused[0]!.data).toMatchObject({
        from: { jobId: 'job-earlier' },
        outputs: [{ fileset: 'data', version: 7 }],
      });
      // data@9 checked once: the job that reused job-newer took the same versions.
      expect(commands.sent.filter((c) => c.name === 'verifyVersion').map((c) => c.request)).toEqual(
        [
          { project: PROJECT, name: 'data', version: 9 },
          { project: PROJECT, name: 'data', version: 7 },
        ],
      );
    });

    it('plans what the run would do: the newest intact result, not only the newest', async () => {
      const evicted = {
        ...earlier,
        jobId: 'job-newer',
        outputs: [{ fileset: 'data', version: 9 }],
      };
      commands
        .on('estimateRun', () => ({}) as CommandResult<'estimateRun'>)
        // The plan at submit asks each level of the DAG's lookups in one round trip.
        .on('findReusableMany', (req) => ({ results: req.lookups.map(() => [evicted, earlier]) }))
        .on('verifyVersion', (req) => ({
          fileset: req.name,
          version: req.version,
          intact: req.version !== 9,
          problem: req.version === 9 ? 'it was evicted: its files are gone' : null,
        }));
      const plan = await handler.plan({ project: PROJECT, spec: pipeline() });
      expect('reuse' in plan ? plan.reuse?.steps[0] : undefined).toMatchObject({
        decision: 'reuse',
        from: 'job-earlier',
      });
    });

    it('computes when earlier results cannot be looked up (provenance down)', async () => {
      commands.on('findReusable', () => {
        throw new AcaiError(RunProblems.JOB_NOT_FOUND, 'no responders');
      });
      await handler.submit({ project: PROJECT, submittedBy: null, spec: pipeline() });
      await deliver();

      expect(log.ofType('job.queued')[0]!.data.reuse?.reason).toBe(
        'earlier results could not be looked up (no responders), so it is computed',
      );
    });

    it('never reuses anything of a profiling run (it is run for its running times)', async () => {
      commands.on('findReusable', () => ({ results: [earlier] }));
      await handler.submit({
        project: PROJECT,
        submittedBy: 'auto-provisioner',
        spec: { ...pipeline(), steps: pipeline().steps.map((st) => ({ ...st, reuse: 'always' })) },
        origin: { kind: 'profiling', profile: 'sig' },
      });
      await deliver();

      expect(commands.sent.filter((c) => c.name === 'findReusable')).toHaveLength(0);
      expect(log.ofType('job.reused')).toHaveLength(0);
      expect(log.ofType('job.queued')[0]!.data.reuse?.reason).toBe('its step says reuse: never');
    });

    it('never looks for a step that says reuse: never', async () => {
      commands.on('findReusable', () => ({ results: [earlier] }));
      await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: { ...pipeline(), reuse: 'never' },
      });
      await deliver();

      expect(commands.sent.filter((c) => c.name === 'findReusable')).toHaveLength(0);
      expect(log.ofType('job.queued')[0]!.data.reuse?.reason).toBe('its step says reuse: never');
    });
  });

  describe('inputs from another step', () => {
    it('pins the version the step committed in this run, not the latest', async () => {
      const asked: unknown[] = [];
      commands.on('getVersion', (req) => {
        asked.push(req.version);
        return {
          fileset: req.name,
          version: typeof req.version === 'number' ? req.version : 99,
          parent: 2,
          files: 1,
          bytes: 10,
          manifestSha256: MANIFEST,
          metadata: {},
          labels: [],
          pinned: false,
          evicted: false,
          createdBy: { kind: 'key', keyId: 'k' },
        };
      });
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([
          { name: 'etl', command: ['etl'], outputs: [{ fileset: 'data' }] },
          { name: 'train', command: ['train'], inputs: [{ step: 'etl', output: 'data' }] },
        ]),
      });
      const [etl, train] = planned;
      await deliver();
      await provision(etl!.id, id);
      await deliver();
      const ref = { project: PROJECT, aggregate: JOB, id: etl!.id };
      await log.seed(
        ref,
        jobDecider.decide(
          { kind: 'start', executor: 'node-1', pid: 7 },
          (await jobs.load(PROJECT, etl!.id)).state,
        ),
        id,
      );
      await deliver();
      await log.seed(
        ref,
        jobDecider.decide(
          {
            kind: 'succeed',
            attempt: 1,
            durationMs: 5,
            outputs: [{ fileset: 'data', version: 7 }],
          },
          (await jobs.load(PROJECT, etl!.id)).state,
        ),
        id,
      );
      await deliver();
      const queued = log.ofType('job.queued').find((e) => e.aggregateId === train!.id);
      expect(queued?.data.inputs).toEqual([
        { fileset: 'data', version: 7, manifestSha256: MANIFEST, path: 'inputs/data' },
      ]);
      expect(asked).toEqual([7]);
    });

    it('skips a step whose input step failed, naming it', async () => {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([
          { name: 'etl', command: ['etl'], outputs: [{ fileset: 'data' }] },
          {
            name: 'train',
            command: ['train'],
            inputs: [{ step: 'etl', output: 'data' }],
            continueOnFailure: true,
          },
        ]),
      });
      await deliver();
      await provision(planned[0]!.id, id);
      await deliver();
      await run(planned[0]!.id, id, false);
      expect(log.ofType('job.skipped').map((e) => e.data)).toEqual([
        { reason: "its input 'data' is the output of step 'etl', which failed", step: 'etl' },
      ]);
      expect(log.ofType('run.failed')).toHaveLength(1);
    });
  });

  it('cancels a run: queued steps never run and a running one is told to stop', async () => {
    const { id, jobs: planned } = await handler.submit({
      project: PROJECT,
      submittedBy: null,
      spec: spec([
        { name: 'a', command: ['sleep', '100'] },
        { name: 'b', command: ['true'], needs: ['a'] },
      ]),
    });
    await deliver();
    const [a, b] = planned;
    await provision(a!.id, id);
    await deliver();
    await log.seed(
      { project: PROJECT, aggregate: JOB, id: a!.id },
      jobDecider.decide(
        { kind: 'start', executor: 'node-1', pid: 7 },
        (await jobs.load(PROJECT, a!.id)).state,
      ),
      id,
    );
    await deliver();

    expect(await handler.cancel({ project: PROJECT, runId: id, reason: 'by test' })).toEqual({
      id,
    });
    await deliver();
    expect(
      log
        .ofType('job.cancelled')
        .map((e) => e.aggregateId)
        .sort(),
    ).toEqual([a!.id, b!.id].sort());
    expect(control.cancelled).toEqual([
      { project: PROJECT, jobId: a!.id, reason: 'the run was cancelled' },
    ]);
    expect(log.ofType('run.cancelled')).toHaveLength(1);
    // Cancelling an ended run again is refused with a conflict.
    await expect(
      handler.cancel({ project: PROJECT, runId: id, reason: 'again' }),
    ).rejects.toMatchObject({ reason: RunProblems.RUN_ALREADY_ENDED.reason });
  });

  it('refuses a run a step of which cannot run anywhere, and records nothing', async () => {
    commands.on('checkResources', () => {
      throw new AcaiError(
        ProvisioningProblems.STEP_FITS_NOWHERE,
        "Run rejected: step 'big' cannot run anywhere",
      );
    });
    await expect(
      handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([{ name: 'big', command: ['true'], resources: { cpu: 64, memoryMb: 512 } }]),
      }),
    ).rejects.toMatchObject({ reason: ProvisioningProblems.STEP_FITS_NOWHERE.reason });
    expect(log.all()).toEqual([]);
  });

  it('settles a job once however often its end is delivered', async () => {
    const { id, jobs: planned } = await handler.submit({
      project: PROJECT,
      submittedBy: null,
      spec: spec([{ name: 'only', command: ['true'] }]),
    });
    await deliver();
    await provision(planned[0]!.id, id);
    await deliver();
    await run(planned[0]!.id, id, false);
    const end = log.ofType('job.failed')[0]!;
    // Redelivered, as a consumer does after a lost acknowledgement.
    await handler.onFailed(end);
    await handler.onFailed(end);
    expect(log.ofType('run.job_settled')).toHaveLength(1);
    expect(log.ofType('run.failed')).toHaveLength(1);
  });

  describe('a process that dies between the two events that settle a run', () => {
    /**
     * The scheduler dies after storing the last job's settlement and before the run's end: the
     * log keeps the first event of that append, the append fails, and a fresh scheduler (empty
     * caches) takes over.
     */
    async function dieAfterTheLastSettlement(): Promise<{
      runId: string;
      end: StoredEvent;
      fresh: RunsHandler;
    }> {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([{ name: 'only', command: ['true'] }]),
      });
      await deliver();
      await provision(planned[0]!.id, id);
      await deliver();
      const dying = new DiesAfterFirstEvent(log, 'run.job_settled');
      handler = new RunsHandler(
        new RunRepository(dying),
        jobs,
        work,
        control,
        commands,
        silentLogger,
      );
      await expect(run(planned[0]!.id, id, true)).rejects.toThrow('the process died');
      expect(log.typesSince(log.lastSeq - 1)).toEqual(['run.job_settled']);
      runs = new RunRepository(log);
      jobs = new JobRepository(log);
      const fresh = new RunsHandler(runs, jobs, work, control, commands, silentLogger);
      return { runId: id, end: log.ofType('job.succeeded')[0]!, fresh };
    }

    it('ends the run when the job’s end is delivered again', async () => {
      const { runId, end, fresh } = await dieAfterTheLastSettlement();

      await fresh.onSucceeded(end as StoredEventOf<'job.succeeded'>);

      expect(log.ofType('run.job_settled')).toHaveLength(1);
      expect(log.ofType('run.succeeded')).toHaveLength(1);
      expect((await runs.load(PROJECT, runId)).state.phase).toBe('succeeded');
    });

    it('ends the run when only the settlement is delivered (the job’s end was acknowledged)', async () => {
      const { runId, fresh } = await dieAfterTheLastSettlement();
      const settlement = log.ofType('run.job_settled')[0]!;

      await fresh.onJobSettled(settlement);
      await fresh.onJobSettled(settlement);

      expect(log.ofType('run.succeeded')).toHaveLength(1);
      expect((await runs.load(PROJECT, runId)).state.phase).toBe('succeeded');
    });

    it('ends a run cancelled in between as cancelled', async () => {
      const { runId, end, fresh } = await dieAfterTheLastSettlement();
      await fresh.cancel({ project: PROJECT, runId, reason: 'changed my mind' });

      await fresh.onSucceeded(end as StoredEventOf<'job.succeeded'>);

      expect(log.typesSince(log.lastSeq - 2)).toEqual(['run.cancel_requested', 'run.cancelled']);
    });
  });

  describe('a sweep', () => {
    const ref = (jobId: string) => ({ project: PROJECT, aggregate: JOB, id: jobId });

    async function start(jobId: string, runId: string): Promise<void> {
      await provision(jobId, runId);
      await deliver();
      const started = jobDecider.decide(
        { kind: 'start', executor: 'node-1', pid: 7 },
        (await jobs.load(PROJECT, jobId)).state,
      );
      await log.seed(ref(jobId), started, runId);
      await deliver();
    }

    async function report(jobId: string, runId: string, loss: [step: number, value: number][]) {
      const reported = jobDecider.decide(
        {
          kind: 'report_metrics',
          data: {
            attempt: 1,
            points: loss.map(([step, value]) => ({
              name: 'loss',
              value,
              step,
              time: '2026-12-01T00:00:00Z',
            })),
          },
        },
        (await jobs.load(PROJECT, jobId)).state,
      );
      await log.seed(ref(jobId), reported, runId);
      await deliver();
    }

    async function succeed(jobId: string, runId: string, version: number): Promise<void> {
      const ended = jobDecider.decide(
        {
          kind: 'succeed',
          attempt: 1,
          durationMs: 5,
          outputs: [{ fileset: 'model', version }],
        },
        (await jobs.load(PROJECT, jobId)).state,
      );
      await log.seed(ref(jobId), ended, runId);
      await deliver();
    }

    it('stops a hopeless trial by its rule, completes the sweep, and hands the best trial’s output on', async () => {
      const { id, jobs: planned } = await handler.submit({
        project: PROJECT,
        submittedBy: null,
        spec: spec([
          {
            name: 'train',
            command: ['train'],
            outputs: [{ fileset: 'model' }],
            sweep: {
              grid: { LR: ['0.1', '0.01', '0.001'] },
              maxParallel: 2,
              objective: { metric: 'loss', mode: 'min' },
              earlyStopping: { rule: 'asha', reductionFactor: 2, minSteps: 1, rungs: [2] },
            },
          },
          { name: 'eval', command: ['eval'], inputs: [{ step: 'train', output: 'model' }] },
        ]),
      });
      await deliver();
      expect(planned.map((j) => j.name)).toEqual(['train#1', 'train#2', 'train#3', 'eval']);
      const [t1, t2, t3, evaluate] = planned.map((j) => j.id) as [string, string, string, string];
      // maxParallel: two trials queued, each with its parameters.
      expect(
        log.ofType('job.queued').map((e) => [e.data.name, e.data.env, e.data.trial?.params]),
      ).toEqual([
        ['train#1', { LR: '0.1' }, { LR: '0.1' }],
        ['train#2', { LR: '0.01' }, { LR: '0.01' }],
      ]);

      await start(t1, id);
      await start(t2, id);
      await report(t1, id, [
        [1, 1.0],
        [2, 0.4],
      ]);
      // The first trial at the rung has nothing to be compared with; the second is worse.
      expect(log.ofType('job.cancelled')).toEqual([]);
      await report(t2, id, [
        [1, 1.2],
        [2, 0.9],
      ]);
      const stopped = log.ofType('job.cancelled');
      expect(stopped.map((e) => [e.aggregateId, e.data.earlyStopped])).toEqual([
        [
          t2,
          {
            rule: 'asha',
            objective: { metric: 'loss', mode: 'min' },
            step: 2,
            value: 0.9,
            threshold: 0.4,
            compared: 1,
          },
        ],
      ]);
      expect(control.cancelled).toEqual([
        { project: PROJECT, jobId: t2, reason: stopped[0]!.data.reason },
      ]);
      // Settled as stopped early, which lets the third trial in.
      expect(log.ofType('run.job_settled').map((e) => e.data.outcome)).toEqual(['early_stopped']);
      expect(log.ofType('job.queued').map((e) => e.data.name)).toContain('train#3');

      // Redelivered, to a scheduler restarted with nothing cached: nothing more is decided.
      const before = log.lastSeq;
      const restarted = new RunsHandler(
        new RunRepository(log),
        new JobRepository(log),
        work,
        control,
        commands,
        silentLogger,
      );
      await restarted.onMetricsReported(log.ofType('job.metrics_reported')[1]!);
      expect(log.lastSeq).toBe(before);

      await start(t3, id);
      await report(t3, id, [
        [1, 0.8],
        [2, 0.3],
      ]);
      await succeed(t1, id, 5);
      expect(log.ofType('run.sweep_completed')).toEqual([]);
      await succeed(t3, id, 6);
      expect(log.ofType('run.sweep_completed').map((e) => e.data)).toEqual([
        {
          step: 'train',
          trials: 3,
          succeeded: 2,
          earlyStopped: 1,
          best: { jobId: t3, name: 'train#3', params: { LR: '0.001' }, value: 0.3 },
        },
      ]);
      // The step that takes the sweep's output is queued on the best trial's version.
      const queued = log.ofType('job.queued').find((e) => e.aggregateId === evaluate)!;
      expect(commands.sent.filter((c) => c.name === 'getVersion').at(-1)?.request).toMatchObject({
        name: 'model',
        version: 6,
      });
      expect(queued.data.inputs).toEqual([expect.objectContaining({ fileset: 'model' })]);
      await provision(evaluate, id);
      await deliver();
      await run(evaluate, id, true);
      expect((await runs.load(PROJECT, id)).state.phase).toBe('succeeded');
    });
  });

  describe('rescaling a running job (SMLT)', () => {
    const JOB_ID = 'job-train';
    const RUN_ID = 'run-train';
    const ONE = {
      provider: 'local',
      name: 'local-1cpu-1024mb',
      vCpu: 1,
      memoryMb: 1024,
      pricePerHour: 0.04,
    };
    const TWO = { ...ONE, name: 'local-2cpu-1024mb', vCpu: 2, pricePerHour: 0.07 };
    const config = (offer: typeof ONE, seconds: number) => ({
      ...offer,
      predictedSeconds: seconds,
      predictedCost: 0.001,
      predictedFinish: new Date(Date.now() + seconds * 1000).toISOString(),
    });

    /**
     * A training job running on 1 CPU that should finish `finishIn` seconds from now, or (with
     * `maxCost`) cost at most that, with no deadline.
     */
    async function runningJob(finishIn: number, maxCost: number | null = null): Promise<void> {
      const ref = { project: PROJECT, aggregate: JOB, id: JOB_ID };
      const steps: Parameters<typeof jobDecider.decide>[0][] = [
        {
          kind: 'queue',
          data: queuedJob({
            runId: RUN_ID,
            resources: { cpu: 1, memoryMb: 768 },
            share:
              maxCost === null
                ? {
                    maxSeconds: finishIn,
                    maxCost: null,
                    optimize: null,
                    reason: 'time: its share',
                    finishBy: new Date(Date.now() + finishIn * 1000).toISOString(),
                  }
                : {
                    maxSeconds: null,
                    maxCost,
                    optimize: null,
                    reason: 'money: its share',
                    finishBy: null,
                  },
          }),
        },
        {
          kind: 'provision',
          data: {
            provider: 'local',
            pool: 'local',
            resources: { cpu: 1, memoryMb: 1024 },
            reason: 'as requested',
            offer: ONE,
            decision: null,
          },
        },
        { kind: 'dispatch', pool: 'local' },
        { kind: 'start', executor: 'node-1', pid: 7 },
      ];
      for (const command of steps) {
        const before = log.lastSeq;
        const { state } = await jobs.load(PROJECT, JOB_ID);
        await log.seed(ref, jobDecider.decide(command, state), RUN_ID);
        for (const event of log.all().slice(before)) jobs.observe(event);
      }
    }

    /** Epochs 1 and 2 reported 10 s apart, of 6: 40 s left at the pace measured. */
    async function report(): Promise<StoredEventOf<'job.metrics_reported'>> {
      const now = Date.now();
      await log.seed(
        { project: PROJECT, aggregate: JOB, id: JOB_ID },
        [
          {
            type: 'job.metrics_reported',
            data: {
              attempt: 1,
              points: [
                { name: 'loss', value: 0.5, step: 1, time: new Date(now - 10_000).toISOString() },
                {
                  name: 'steps_total',
                  value: 6,
                  step: 1,
                  time: new Date(now - 10_000).toISOString(),
                },
                { name: 'loss', value: 0.3, step: 2, time: new Date(now).toISOString() },
              ],
            },
          },
        ],
        RUN_ID,
      );
      const event = log.ofType('job.metrics_reported').at(-1)!;
      jobs.observe(event);
      return event;
    }

    /**
     * The report handled as the consumer would: handed back while its plan is in flight, which is
     * recorded once the provisioner answers.
     */
    async function handled(event: StoredEventOf<'job.metrics_reported'>): Promise<void> {
      try {
        await handler.onMetricsReported(event);
      } catch (error) {
        if (!(error instanceof HandleLater)) throw error;
      }
      await handler.whenPlanned();
    }

    it('moves a job its pace says is late, with the prediction and measurements, and tells its executor', async () => {
      await runningJob(30);
      const asked: unknown[] = [];
      commands.on('planRescale', (req) => {
        asked.push(req);
        return {
          decision: 'up' as const,
          reason: 'predicted to finish 10 s after its deadline on local-1cpu-1024mb',
          from: config(ONE, 40),
          to: config(TWO, 27),
          alternatives: [],
        };
      });
      await handled(await report());
      expect(asked).toEqual([
        expect.objectContaining({ jobId: JOB_ID, stepsLeft: 4, stepsPerSecond: 0.1, lostSteps: 2 }),
      ]);
      const [requested] = log.ofType('job.rescale_requested');
      expect(requested?.data).toMatchObject({
        attempt: 1,
        direction: 'up',
        to: { name: TWO.name, vCpu: 2 },
        measurements: { step: 2, totalSteps: 6, stepsPerSecond: 0.1, checkpointStep: null },
        graceSeconds: 30,
      });
      expect(control.rescaled).toEqual([
        expect.objectContaining({ jobId: JOB_ID, attempt: 1, graceSeconds: 30 }),
      ]);
      // The next report asks again (a control message may be lost), and decides nothing new.
      await handled(await report());
      expect(log.ofType('job.rescale_requested')).toHaveLength(1);
      expect(control.rescaled).toHaveLength(2);
      expect(asked).toHaveLength(1);
    });

    /** How `handler` settles `event` while the provisioner does not answer. */
    function settled(
      handler: RunsHandler,
      event: StoredEventOf<'job.metrics_reported'>,
    ): Promise<unknown> {
      return Promise.race([
        handler.onMetricsReported(event).then(
          () => 'handled',
          (error: unknown) => (error instanceof HandleLater ? 'handed back' : error),
        ),
        // Everything the handler does without waiting on the provisioner is done by then.
        new Promise((resolve) => setImmediate(() => resolve('still waiting'))),
      ]);
    }

    it('asks the provisioner off the consumer’s path, and records its answer when it comes', async () => {
      // Given a late job, and a provisioner that has not answered yet
      await runningJob(30);
      const answers: ((plan: CommandResult<'planRescale'>) => void)[] = [];
      commands.on(
        'planRescale',
        () => new Promise<CommandResult<'planRescale'>>((resolve) => answers.push(resolve)),
      );
      const move = {
        decision: 'up' as const,
        reason: 'predicted to finish 10 s after its deadline on local-1cpu-1024mb',
        from: config(ONE, 40),
        to: config(TWO, 27),
        alternatives: [],
      };
      const outcome = (event: StoredEventOf<'job.metrics_reported'>) => settled(handler, event);

      // When its report is handled, the consumer does not wait for the answer: the report is
      // handed back, to come again once the plan is recorded
      const first = await report();
      expect(await outcome(first)).toBe('handed back');
      expect(answers).toHaveLength(1);
      // and its next report, while the plan is in flight, asks nothing more
      expect(await outcome(await report())).toBe('handed back');
      expect(answers).toHaveLength(1);
      expect(log.ofType('job.rescale_requested')).toHaveLength(0);

      // When the provisioner answers, the move is recorded, caused by the report, and the job told
      answers[0]!(move);
      await handler.whenPlanned();
      const [requested] = log.ofType('job.rescale_requested');
      expect(requested?.causationId).toBe(first.id);
      expect(control.rescaled).toEqual([expect.objectContaining({ jobId: JOB_ID, attempt: 1 })]);
      // and the report handed back is settled when it comes again, deciding nothing new
      expect(await outcome(first)).toBe('handled');
      expect(log.ofType('job.rescale_requested')).toHaveLength(1);
      expect(answers).toHaveLength(1);
    });

    it('waits at shutdown for a plan in flight only as long as it is bounded to', async () => {
      // Given a late job whose plan the provisioner has not answered
      await runningJob(30);
      const answers: ((plan: CommandResult<'planRescale'>) => void)[] = [];
      commands.on(
        'planRescale',
        () => new Promise<CommandResult<'planRescale'>>((resolve) => answers.push(resolve)),
      );
      expect(await settled(handler, await report())).toBe('handed back');
      // When a shutdown waits for it, it gives up after its bound, saying one is left in flight
      await expect(handler.whenPlanned(20)).resolves.toBe(false);
      expect(log.ofType('job.rescale_requested')).toHaveLength(0);
      // and once the answer comes within the bound, it is recorded before the scheduler goes
      answers[0]!({
        decision: 'up' as const,
        reason: 'predicted to finish 10 s after its deadline on local-1cpu-1024mb',
        from: config(ONE, 40),
        to: config(TWO, 27),
        alternatives: [],
      });
      await expect(handler.whenPlanned(5_000)).resolves.toBe(true);
      expect(log.ofType('job.rescale_requested')).toHaveLength(1);
    });

    it('asks again for a report handed back by a scheduler that died before the answer', async () => {
      await runningJob(30);
      let asked = 0;
      commands.on('planRescale', () => {
        asked += 1;
        // The first scheduler's question is never answered: it died.
        if (asked === 1) return new Promise<CommandResult<'planRescale'>>(() => {});
        return {
          decision: 'up' as const,
          reason: 'predicted to finish 10 s after its deadline on local-1cpu-1024mb',
          from: config(ONE, 40),
          to: config(TWO, 27),
          alternatives: [],
        };
      });
      const event = await report();
      expect(await settled(handler, event)).toBe('handed back');

      // A new scheduler gets the report again (JetStream held it) and decides it
      const restarted = new RunsHandler(
        new RunRepository(log),
        new JobRepository(log),
        work,
        control,
        commands,
        silentLogger,
      );
      await expect(restarted.onMetricsReported(event)).rejects.toBeInstanceOf(HandleLater);
      await restarted.whenPlanned();
      expect(asked).toBe(2);
      expect(log.ofType('job.rescale_requested')).toHaveLength(1);
      await expect(restarted.onMetricsReported(event)).resolves.toBeUndefined();
      expect(log.ofType('job.rescale_requested')).toHaveLength(1);
    });

    it('asks nothing of a job on course, and moves none the provisioner says should stay', async () => {
      await runningJob(120);
      let asked = 0;
      commands.on('planRescale', () => {
        asked += 1;
        return {
          decision: 'stay' as const,
          reason: 'no',
          from: config(ONE, 40),
          to: null,
          alternatives: [],
        };
      });
      await handled(await report());
      expect(asked).toBe(0);
    });

    /** The run: only this job, $0.0005 budget, $0.0002 held back for it, its share $0.0004. */
    async function budgetedRun(): Promise<void> {
      const limits = {
        deadline: null,
        deadlineSpec: null,
        budget: 0.0005,
        predictedFinish: null,
        predictedCost: 0.0002,
        cheapestCost: 0.0001,
      };
      const train = plannedJob(JOB_ID, 'train');
      await log.seed({ project: PROJECT, aggregate: 'run', id: RUN_ID }, [
        {
          type: 'run.submitted',
          data: { name: 'r', jobs: [train], submittedBy: null, origin: null, limits },
        },
        {
          type: 'run.step_budgeted',
          data: {
            jobId: JOB_ID,
            name: 'train',
            share: {
              maxSeconds: null,
              maxCost: 0.0004,
              optimize: null,
              reason: 'money',
              finishBy: null,
            },
            remainingSeconds: null,
            remainingBudget: 0.0005,
            spent: 0,
            reserved: 0,
            predictedSeconds: 20,
            predictedCost: 0.0002,
            runPredictedFinish: null,
            runPredictedCost: 0.0002,
          },
        },
      ]);
      for (const event of log.all()) runs.observe(event);
    }

    it('stops the run when a job costs more than all its budget left and nothing costs less', async () => {
      await budgetedRun();
      // 6 epochs of 10 s at $0.04/h: 60 s, $0.00067, more than $0.0004 and than $0.0005.
      await runningJob(0, 0.0004);
      commands.on('planRescale', () => ({
        decision: 'stay' as const,
        reason: 'no configuration costs less',
        from: { ...config(ONE, 40), predictedCost: 0.00067 },
        to: null,
        alternatives: [
          {
            offer: TWO.name,
            provider: 'local',
            predictedSeconds: 27,
            predictedCost: 0.0008,
            feasible: false,
            whyNot: 'over the budget',
          },
        ],
      }));
      await handled(await report());
      const [exhausted] = log.ofType('run.budget_exhausted');
      expect(exhausted?.data).toMatchObject({
        jobId: JOB_ID,
        budget: 0.0005,
        cheapestCost: 0.00067,
      });
      expect(exhausted?.data.reason).toContain("step 'train' is predicted to cost");
      // The job is cancelled and its process told to stop.
      expect(log.ofType('job.cancelled')).toHaveLength(1);
      expect(control.cancelled).toEqual([expect.objectContaining({ jobId: JOB_ID })]);
    });

    it('stops the run while its budget left no longer covers one more Spot interruption, before the loss comes', async () => {
      // Given a job on Spot predicted to cost $0.00035 where it runs, within the run's $0.0005,
      // but $0.00055 if one more interruption comes ($0.0002 held back for it), and nothing cheaper
      await budgetedRun();
      await runningJob(0, 0.0004);
      commands.on('planRescale', () => ({
        decision: 'stay' as const,
        reason: 'no configuration costs less',
        from: { ...config(ONE, 40), predictedCost: 0.00035, spotReserve: 0.0002 },
        to: null,
        alternatives: [
          {
            offer: TWO.name,
            provider: 'local',
            predictedSeconds: 27,
            predictedCost: 0.0008,
            feasible: false,
            whyNot: 'over the budget',
          },
        ],
        leastCost: 0.00055,
      }));

      // When its report is judged, the run stops now, saying what was held back and why
      await handled(await report());
      const [exhausted] = log.ofType('run.budget_exhausted');
      expect(exhausted?.data).toMatchObject({ jobId: JOB_ID, cheapestCost: 0.00055 });
      expect(exhausted?.data.reason).toContain(
        '$0.0002 of it held back for one more Spot interruption',
      );
      expect(control.cancelled).toEqual([expect.objectContaining({ jobId: JOB_ID })]);
    });

    it('lets a report go when its job ended before the provisioner could plan it again', async () => {
      await runningJob(30);
      commands.on('planRescale', () => {
        throw new AcaiError(
          ProvisioningProblems.NO_CONFIGURATION,
          `Job ${JOB_ID} cannot be rescaled: it is succeeded`,
        );
      });
      await expect(handled(await report())).resolves.toBeUndefined();
      expect(log.ofType('job.rescale_requested')).toHaveLength(0);
      expect(control.rescaled).toHaveLength(0);
    });

    it('keeps a job where it is when no configuration helps', async () => {
      await runningJob(30);
      let asked = 0;
      commands.on('planRescale', () => {
        asked += 1;
        return {
          decision: 'stay' as const,
          reason: 'no configuration ends it sooner',
          from: config(ONE, 40),
          to: null,
          alternatives: [],
        };
      });
      await handled(await report());
      expect(log.ofType('job.rescale_requested')).toHaveLength(0);
      expect(control.rescaled).toHaveLength(0);
      expect(asked).toBe(1);
      // The same step reported again (a redelivery, a batch of other metrics): not asked again.
      await handled(await report());
      expect(asked).toBe(1);
    });
  });
});

/**
 * An event log whose process dies in the middle of an append: of an append that starts with
 * `type` and has more events, only the first is stored (JetStream stores each event of an append
 * as its own message), then the append fails.
 */
type AggregateRef = Parameters<EventLog['append']>[0];

class DiesAfterFirstEvent implements EventLog {
  constructor(
    private readonly log: InMemoryEventLog,
    private readonly type: string,
  ) {}

  subjectOf(ref: AggregateRef): string {
    return this.log.subjectOf(ref);
  }

  async append(
    ref: AggregateRef,
    events: readonly NewEvent[],
    options: Parameters<EventLog['append']>[2],
  ): Promise<StoredEvent[]> {
    if (events.length < 2 || events[0]!.type !== this.type) {
      return this.log.append(ref, events, options);
    }
    await this.log.append(ref, events.slice(0, 1), options);
    throw new Error('the process died');
  }

  read(ref: AggregateRef, after?: number): Promise<{ events: StoredEvent[]; version: number }> {
    return this.log.read(ref, after);
  }
}
