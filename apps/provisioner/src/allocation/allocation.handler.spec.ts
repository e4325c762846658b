import { describe, expect, it } from '@jest/globals';
import {
  AcaiError,
  CommonProblems,
  ErrorCode,
  JOB,
  PROFILE,
  ProvisioningProblems,
  RUN,
  RunProblems,
  type CommandPayload,
  type ProvisionSpec,
  type StoredEventOf,
} from '@acai/contracts';
import { silentLogger } from '@acai/eventing';
import { FakeCommands, InMemoryEventLog } from '@acai/eventing/testing';
import { commonConfig, loadConfig } from '@acai/platform';
import type { Offer } from '@acai/provisioning';
import { jobDecider } from '@acai/runs';
import { AutoProvisioner } from '../autoprovision/auto-provisioner.js';
import { ProfileRepository, ProvisionerRuns } from '../autoprovision/profile.repository.js';
import { provisionerConfig, type ProvisionerConfig } from '../config.js';
import { OfferBook } from '../offers/offer-book.js';
import { Ec2ThrottledError, type Ec2Instance, type Ec2Repository } from '../providers/ec2/index.js';
import { Ec2Provider } from '../providers/ec2/ec2.provider.js';
import type { Provider } from '../providers/provider.js';
import { Providers } from '../providers/providers.js';
import {
  AllocationHandler,
  againstTimeLeft,
  ObservationsReady,
  ProvisionerJobs,
} from './allocation.handler.js';

const PROJECT = 'p1';

function config(env: Record<string, string>): ProvisionerConfig {
  return loadConfig(
    { ...commonConfig, ...provisionerConfig },
    // Read only by the service around the handler; nothing here connects to it.
    { DATABASE_URL: 'postgres://127.0.0.1:5432/unused', ...env },
  );
}

/** A provider whose `place` does what the test says; every other call is a no-op. */
function scriptedProvider(
  place: (offer: Offer, jobId: string) => Promise<{ pool: string }>,
): Provider {
  return {
    name: 'simulated',
    place,
    started: () => undefined,
    released: () => undefined,
    nodes: () => [],
    start: async () => undefined,
    stop: async () => undefined,
  };
}

/**
 * The allocation handler with the event log in memory and `provider` as the only one. Jobs are
 * queued as the scheduler queues them, and handed to the handler as its consumer does.
 */
function harness(provider: Provider, env: Record<string, string>) {
  const log = new InMemoryEventLog('provisioner');
  const book = new OfferBook(config(env));
  const profiles = new ProfileRepository(log);
  const commands = new FakeCommands();
  const handler = new AllocationHandler(
    new ProvisionerJobs(log, JOB, jobDecider),
    new AutoProvisioner(
      book,
      // Nothing was ever observed: a job with a `profile` is profiled first.
      async () => [],
      3,
      async (project, signature) =>
        (await profiles.load(project, signature)).state.status === 'profiled',
    ),
    profiles,
    new ProvisionerRuns(log),
    new Providers(book, [provider]),
    new ObservationsReady(async () => undefined),
    commands,
    silentLogger,
  );
  let jobs = 0;

  /** Queues a job (placed as requested, or as `provision` says) and hands it to the handler. */
  async function queue(
    provision: ProvisionSpec | null = null,
    env: Record<string, string> = {},
  ): Promise<string> {
    jobs += 1;
    const jobId = `job-${jobs}`;
    const [queued] = await log.seed(
      { project: PROJECT, aggregate: JOB, id: jobId },
      jobDecider.decide(
        {
          kind: 'queue',
          data: {
            runId: 'run-1',
            name: 'train',
            command: ['python', 'train.py'],
            env,
            resources: { cpu: 2, memoryMb: 4096 },
            inputs: [],
            outputs: [],
            timeoutSeconds: null,
            network: 'default',
            secrets: {},
            provision,
            retries: null,
          },
        },
        jobDecider.initialState(),
      ),
    );
    await handler.onQueued(queued as StoredEventOf<'job.queued'>);
    return jobId;
  }

  /** The events the handler recorded for a job after it was queued. */
  function recorded(jobId: string): string[] {
    return log
      .all()
      .filter((e) => e.aggregateId === jobId && e.type !== 'job.queued')
      .map((e) => e.type);
  }

  function failure(jobId: string) {
    return log.ofType('job.failed').find((e) => e.aggregateId === jobId)?.data;
  }

  function provisioned(jobId: string) {
    return log.ofType('job.provisioned').find((e) => e.aggregateId === jobId)?.data;
  }

  return { log, handler, commands, queue, recorded, failure, provisioned };
}

/** Whether `queue` threw, and with what: a handler that throws has its event redelivered. */
async function thrown(run: () => Promise<unknown>): Promise<AcaiError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('expected the handler to throw, for the event to be redelivered');
}

describe('AllocationHandler: retry later or fail the job, by `retryable`', () => {
  it('fails the job when the provider refuses for good, even though the category is Unavailable', async () => {
    const message = 'simulated has no c5.large to give; run the job again later';
    const { queue, failure, recorded } = harness(
      scriptedProvider(async () => {
        throw new AcaiError(ProvisioningProblems.CAPACITY_UNAVAILABLE, message);
      }),
      { ACAI_PROVIDERS: 'simulated' },
    );
    expect(ProvisioningProblems.CAPACITY_UNAVAILABLE.code).toBe(ErrorCode.Unavailable);

    const jobId = await queue();

    expect(recorded(jobId)).toEqual(['job.failed']);
    expect(failure(jobId)).toMatchObject({ reason: 'no_resources', message });
  });

  it.each([
    ['EC2 throttling (Unavailable)', () => new Ec2ThrottledError('AWS kept throttling; try later')],
    [
      'a lost race (Conflict)',
      () => new AcaiError(CommonProblems.CONCURRENT_CHANGE, 'Someone placed it first; try again'),
    ],
  ])('throws %s, whatever its category, so the event is redelivered', async (_, make) => {
    const error = make();
    expect(error.retryable).toBe(true);
    const { queue, recorded } = harness(
      scriptedProvider(async () => {
        throw error;
      }),
      { ACAI_PROVIDERS: 'simulated' },
    );

    expect(await thrown(() => queue())).toBe(error);
    expect(recorded('job-1')).toEqual([]);
  });

  it('fails the job, as CAPACITY_UNAVAILABLE, when a provider fails with an error that is no AcaiError', async () => {
    const { queue, failure } = harness(
      scriptedProvider(async () => {
        throw new Error('the simulated cloud is gone');
      }),
      { ACAI_PROVIDERS: 'simulated' },
    );

    const jobId = await queue({ offer: 'c5.large' });

    expect(failure(jobId)).toMatchObject({
      reason: 'no_resources',
      message:
        'simulated could not provide c5.large: the simulated cloud is gone; run the job again later, or on another configuration',
    });
  });
});

describe('AllocationHandler: jobs that need profiling', () => {
  const provision: ProvisionSpec = { profile: { EPOCHS: ['1'] }, sizeParameters: ['EPOCHS'] };
  const placing = () =>
    harness(
      scriptedProvider(async (offer) => ({ pool: `sim-${offer.name}` })),
      { ACAI_PROVIDERS: 'simulated' },
    );

  /** The scheduler's answer to submitRun: each id once, as its run decider does. */
  function scheduler(h: ReturnType<typeof placing>) {
    const submitted: CommandPayload<'submitRun'>[] = [];
    h.commands.on('submitRun', (request) => {
      if (submitted.some((r) => r.id === request.id)) {
        throw new AcaiError(RunProblems.RUN_EXISTS, 'A run with this id exists already');
      }
      submitted.push(request);
      return { id: request.id ?? 'run-unexpected', jobs: [] };
    });
    return submitted;
  }

  const profileEvents = (h: ReturnType<typeof placing>) =>
    h.log
      .all()
      .filter((e) => e.aggregate === PROFILE)
      .map((e) => e.type);

  /** The scheduler ran the profiling run, and it ended: its events, as the handler gets them. */
  async function runEnded(h: ReturnType<typeof placing>, request: CommandPayload<'submitRun'>) {
    const ref = { project: PROJECT, aggregate: RUN, id: request.id! };
    await h.log.seed(ref, [
      {
        type: 'run.submitted',
        data: {
          name: request.spec.name,
          jobs: [],
          submittedBy: request.submittedBy,
          origin: request.origin ?? null,
        },
      },
    ]);
    const [ended] = await h.log.seed(ref, [{ type: 'run.succeeded', data: {} }]);
    return ended as StoredEventOf<'run.succeeded'>;
  }

  it('profiles a profile once, keeps who waits, and places them when the run ends', async () => {
    const h = placing();
    const submitted = scheduler(h);

    const first = await h.queue(provision, { EPOCHS: '10' });
    const second = await h.queue(provision, { EPOCHS: '20' });

    expect([h.recorded(first), h.recorded(second)]).toEqual([[], []]);
    expect(profileEvents(h)).toEqual([
      'profile.profiling_started',
      'profile.job_waiting',
      'profile.job_waiting',
    ]);
    expect(submitted).toHaveLength(1);
    const run = submitted[0]!;
    expect(run).toMatchObject({
      submittedBy: 'auto-provisioner',
      origin: { kind: 'profiling', profile: h.log.ofType('profile.job_waiting')[0]!.aggregateId },
    });
    expect(h.log.ofType('profile.profiling_started')[0]!.data.runId).toBe(run.id);

    const ended = await runEnded(h, run);
    await h.handler.onRunSucceeded(ended);

    expect([h.recorded(first), h.recorded(second)]).toEqual([
      ['job.provisioned'],
      ['job.provisioned'],
    ]);
    expect(profileEvents(h).at(-1)).toBe('profile.profiled');

    // The end delivered again: nothing more is recorded.
    const before = h.log.lastSeq;
    await h.handler.onRunSucceeded(ended);
    expect(h.log.lastSeq).toBe(before);

    // A later job of the profile is not profiled again: it is placed at once.
    const later = await h.queue(provision, { EPOCHS: '30' });
    expect(h.recorded(later)).toEqual(['job.provisioned']);
    expect(submitted).toHaveLength(1);
  });

  it('submits the recorded profiling run when the delivery that recorded it stopped before', async () => {
    const h = placing();
    h.commands.on('submitRun', () => {
      throw new AcaiError(CommonProblems.SERVICE_UNAVAILABLE, 'The scheduler is not running');
    });
    await expect(h.queue(provision, { EPOCHS: '10' })).rejects.toMatchObject({
      reason: 'SERVICE_UNAVAILABLE',
    });
    const recordedRun = h.log.ofType('profile.profiling_started')[0]!.data.runId;

    // The scheduler is back, and job.queued is delivered again.
    const submitted = scheduler(h);
    const queued = h.log.ofType('job.queued')[0]!;
    await h.handler.onQueued(queued);

    expect(submitted.map((r) => r.id)).toEqual([recordedRun]);
    expect(profileEvents(h)).toEqual(['profile.profiling_started', 'profile.job_waiting']);
  });

  it('ignores the end of a run that profiled nothing', async () => {
    const h = placing();
    scheduler(h);
    await h.queue(provision, { EPOCHS: '10' });
    const before = h.log.lastSeq;

    const ended = await runEnded(h, {
      project: PROJECT,
      spec: { name: 'nightly', steps: [{ name: 'a', command: ['true'] }] },
      submittedBy: 'key-1',
      id: 'run-0000000000000000000000009',
    });
    await h.handler.onRunSucceeded(ended);

    expect(h.log.typesSince(before)).toEqual(['run.submitted', 'run.succeeded']);
  });
});

/** An error shaped as the AWS SDK throws it for the EC2 query protocol. */
function awsError(code: string, status: number): Error {
  return Object.assign(new Error(`${code} happened`), {
    name: code,
    Code: code,
    $metadata: { httpStatusCode: status },
  });
}

/** EC2 that launches what it is asked for, or fails every launch with `fail`'s error. */
class ScriptedEc2 implements Ec2Repository {
  fail: (() => Error) | undefined;
  private launched = 0;

  async launch(spec: Parameters<Ec2Repository['launch']>[0]): Promise<Ec2Instance> {
    if (this.fail !== undefined) throw this.fail();
    this.launched += 1;
    return {
      id: `i-${String(this.launched).padStart(17, '0')}`,
      instanceType: spec.instanceType,
      state: 'pending',
      launchedAt: new Date(),
      tags: spec.tags,
    };
  }

  async describe(): Promise<{ instances: Ec2Instance[] }> {
    return { instances: [] };
  }

  async terminate(): Promise<void> {}
}

/** The handler on the EC2 provider, with its fleet on a scripted EC2 (at most one instance). */
function onEc2() {
  const ec2 = new ScriptedEc2();
  const env = { ACAI_PROVIDERS: 'ec2', ACAI_EC2_IMAGE_ID: 'ami-1', ACAI_EC2_MAX_INSTANCES: '1' };
  const book = new OfferBook(config(env));
  const provider = new Ec2Provider(() => book.offers(['ec2']), {
    config: config(env),
    logger: silentLogger,
    repository: ec2,
    sleep: async () => undefined,
  });
  return { ec2, provider, ...harness(provider, env) };
}

describe('AllocationHandler on the EC2 provider: what waits, what is retried, what fails', () => {
  it('retries throttling: the handler throws, nothing is recorded', async () => {
    const { ec2, queue, recorded } = onEc2();
    ec2.fail = () => awsError('RequestLimitExceeded', 503);

    const error = await thrown(() => queue());

    expect(error).toMatchObject({ reason: 'EC2_THROTTLED', retryable: true });
    expect(recorded('job-1')).toEqual([]);
  });

  it('lets a job wait in its pool at the instance limit', async () => {
    const { queue, provisioned } = onEc2();
    const first = await queue();
    const second = await queue();

    expect(provisioned(first)?.pool).toMatch(/^ec2-/);
    // The fleet refused an instance (EC2_MAX_INSTANCES): the job is placed on the type's pool.
    expect(provisioned(second)?.pool).toBe(provisioned(first)?.pool);
  });

  it.each([
    ['AWS refuses for good (EC2_REJECTED)', 'UnauthorizedOperation', 403],
    ['no type has capacity (EC2_NO_CAPACITY)', 'InsufficientInstanceCapacity', 500],
  ])('fails the job when %s, with what AWS said', async (_, code, status) => {
    const { ec2, queue, failure, recorded } = onEc2();
    ec2.fail = () => awsError(code, status);

    const jobId = await queue();

    expect(recorded(jobId)).toEqual(['job.failed']);
    expect(failure(jobId)).toMatchObject({
      reason: 'no_resources',
      message: expect.stringContaining(code),
    });
  });

  it('fails the job when the fleet cannot take the request (EC2_INVALID_REQUEST)', async () => {
    const { provider, queue, failure } = onEc2();
    await provider.stop();

    const jobId = await queue();

    expect(failure(jobId)).toMatchObject({
      reason: 'no_resources',
      message: expect.stringContaining('The EC2 fleet is closed'),
    });
  });
});

describe('Ec2Provider.place', () => {
  it('turns EC2_NO_CAPACITY, which the fleet has already tried every type for, into CAPACITY_UNAVAILABLE', async () => {
    const { ec2, provider } = onEc2();
    ec2.fail = () => awsError('InsufficientInstanceCapacity', 500);
    const offer: Offer = new OfferBook(
      config({ ACAI_PROVIDERS: 'ec2', ACAI_EC2_IMAGE_ID: 'ami-1' }),
    ).find('c5.large');

    const error = await thrown(() => provider.place(offer, 'job-1'));

    expect(error).toMatchObject({
      reason: ProvisioningProblems.CAPACITY_UNAVAILABLE.reason,
      retryable: false,
      cause: expect.objectContaining({ reason: 'EC2_NO_CAPACITY', retryable: true }),
    });
    expect(error.message).toContain('InsufficientInstanceCapacity');
  });

  it('passes the other EC2 errors on as they are', async () => {
    const { ec2, provider } = onEc2();
    ec2.fail = () => awsError('UnauthorizedOperation', 403);
    const offer: Offer = new OfferBook(
      config({ ACAI_PROVIDERS: 'ec2', ACAI_EC2_IMAGE_ID: 'ami-1' }),
    ).find('c5.large');

    const error = await thrown(() => provider.place(offer, 'job-1'));

    expect(error).toMatchObject({
      reason: 'EC2_REJECTED',
      code: ErrorCode.Internal,
      retryable: false,
    });
  });
});

describe('againstTimeLeft: a job placed again after it lost its place', () => {
  const T0 = Date.UTC(2026, 11, 6, 5, 0, 0);
  const lost = (provision: ProvisionSpec | null) => ({
    ...jobDecider.initialState(),
    status: 'queued' as const,
    attempt: 1,
    provision,
    // A share of 1000 s budgeted at T0, nothing checkpointed.
    share: {
      maxSeconds: 1000,
      maxCost: null,
      optimize: null,
      reason: 'test',
      finishBy: new Date(T0 + 1_000_000).toISOString(),
    },
  });

  it('is placed against the time its share has left, 600 s lost of 1000', () => {
    const state = againstTimeLeft(lost({ maxSeconds: 1000 }), new Date(T0 + 600_000));
    expect(state.provision).toEqual({ maxSeconds: 400 });
  });

  it('keeps a provision without a deadline, a pinned one, and one already tighter', () => {
    const now = new Date(T0 + 600_000);
    for (const provision of [null, { maxCost: 1 }, { maxSeconds: 1000, offer: 'c5.large' }]) {
      expect(againstTimeLeft(lost(provision), now).provision).toEqual(provision);
    }
    expect(againstTimeLeft(lost({ maxSeconds: 300 }), now).provision).toEqual({ maxSeconds: 300 });
  });
});
