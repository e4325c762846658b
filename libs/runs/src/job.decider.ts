import {
  AcaiError,
  RunProblems,
  type CheckpointRef,
  type OfferRef,
  type DeclaredOutput,
  type ProvisionSpec,
  type RetryPolicy,
  MAX_RETRY_DELAY_SECONDS,
  type WorkAssignment,
  type EventData,
  type JobStatus,
  type StagedInput,
  type StepShare,
  type Trial,
  type Resources,
  type Network,
  assertUnreachable,
  type Decider,
  type NewEvent,
} from '@acai/contracts';
import { type Series, type StopDecision, withPoints } from './early-stopping.js';
import { STEPS_TOTAL_METRIC } from './progress.js';

export interface JobState {
  readonly status: JobStatus | 'none';
  readonly runId: string | null;
  readonly name: string | null;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly resources: Resources | null;
  readonly pool: string | null;
  readonly inputs: readonly StagedInput[];
  readonly outputs: readonly DeclaredOutput[];
  readonly timeoutSeconds: number | null;
  readonly network: Network;
  /** Environment variable → secret name (the values never enter the log). */
  readonly secrets: Readonly<Record<string, string>>;
  /** What the auto-provisioner is asked to do for it (null: run as requested). */
  readonly provision: ProvisionSpec | null;
  /** Attempts dispatched so far; an executor's start carries the attempt it runs. */
  readonly attempt: number;
  /**
   * The attempt of the last dispatch (its work message carries it): work of an earlier dispatch,
   * before a retry, never starts the job.
   */
  readonly dispatchedAttempt: number;
  /** The last checkpoint any attempt saved: a new attempt starts from it. */
  readonly checkpoint: CheckpointRef | null;
  /** When a failure is retried (null: never). */
  readonly retries: RetryPolicy | null;
  /** Retries scheduled so far. */
  readonly retry: number;
  /** The file set versions its outputs became, once it succeeded. */
  readonly committed: EventData<'job.succeeded'>['outputs'];
  /** The number of the last metrics batch recorded of the running attempt (0 or absent: none). */
  readonly metricsBatch?: number;
  /** Its share of its run's deadline and budget, when the run has them (absent: none). */
  readonly share?: StepShare | null;
  /** USD per hour of the configuration it was last placed on (absent: not known). */
  readonly pricePerHour?: number | null;
  /** The configuration it was last placed on (absent or null: not known). */
  readonly offer?: OfferRef | null;
  /**
   * What its step asked for (`resources` becomes what it was placed with, e.g. a whole instance
   * type): what any configuration it moves to must have (absent: as `resources`).
   */
  readonly requested?: Resources;
  /** Its step pinned it to a configuration (`provision.offer`): it is never moved off it. */
  readonly pinned?: boolean;
  /** When its running attempt started, by its executor's clock (absent or null: not known). */
  readonly startedAt?: string | null;
  /**
   * The running attempt's executor clock, when it is not real time (a simulated node's): it runs
   * `rate` times as fast as real time and read `startedAt` at real `realAt` (absent or null: real
   * time).
   */
  readonly clock?: ExecutorClock | null;
  /** The executor its running attempt started on (absent or null: not known). */
  readonly executor?: string | null;
  /**
   * What its attempts ran for and cost, measured: each attempt's running time × the price of the
   * configuration it ran on, an attempt lost to its node's loss until the next one started, and the
   * wait from each placement to its start (the instance's boot is billed) (absent: nothing measured
   * yet).
   */
  readonly spent?: { readonly seconds: number; readonly cost: number };
  /**
   * When it was last placed (real time, ISO 8601), until its attempt there starts (absent or null:
   * not known, or started): the instance is billed from then, its boot included.
   */
  readonly placedAt?: string | null;
  /**
   * Seconds from its last placement to its start there, by the job's clock (the boot, and the
   * wait for an executor to take the work): what a new attempt pays before it runs (absent or
   * null: not measured).
   */
  readonly placedToStartSeconds?: number | null;
  /** The earlier job whose result it took instead of running (absent: it ran, or will). */
  readonly reusedFrom?: string;
  /** sha256 of its code as hashed into its signature (absent or null: not known). */
  readonly code?: string | null;
  /** The sweep trial this job is, and its parameters (absent or null: not a trial). */
  readonly trial?: Trial | null;
  /** For a trial with an objective: the objective's values by step, as it reported them. */
  readonly objectiveSeries?: Series;
  /**
   * How fast the running attempt goes, from the steps it reported (absent: none reported). Until
   * a new attempt reports, the last attempt's (its `attempt` says whose).
   */
  readonly pace?: Pace | null;
  /** A rescale asked of the running attempt and not done yet (absent or null: none). */
  readonly rescale?: PendingRescale | null;
  /** Rescales done or asked so far. */
  readonly rescales?: number;
}

/**
 * The running attempt's reported steps: the first and the last it reached, when (epoch ms, from
 * the points' own times), and the total it declared (`steps_total`).
 */
export interface Pace {
  readonly attempt: number;
  readonly firstStep: number;
  readonly firstAt: number;
  readonly lastStep: number;
  readonly lastAt: number;
  readonly totalSteps: number | null;
  /** The configuration the attempt runs on (`c5.large:spot`), when known. */
  readonly offer?: string | null;
  /**
   * The rate the previous attempt measured, and where: until this attempt has two reports, a
   * check on the same configuration goes by it (a job interrupted often on Spot may never report
   * twice in one attempt, and would never be judged).
   */
  readonly earlier?: { readonly stepsPerSecond: number; readonly offer: string | null } | null;
}

/** An executor's clock that is not real time: `rate` times as fast, reading `at` at real `realAt`. */
export type ExecutorClock = NonNullable<EventData<'job.started'>['clock']>;

export interface PendingRescale {
  readonly attempt: number;
  readonly to: EventData<'job.rescaled'>['to'];
  readonly graceSeconds: number;
  readonly reason: string;
}

export type JobCommand =
  | { kind: 'queue'; data: EventData<'job.queued'> }
  /** An earlier job's result is this job's: it ends succeeded without running. */
  | { kind: 'reuse'; data: EventData<'job.reused'> }
  | { kind: 'provision'; data: EventData<'job.provisioned'> }
  | { kind: 'dispatch'; pool: string }
  | {
      kind: 'start';
      executor: string;
      pid: number | null;
      /**
       * The work message's first delivery: on a running job it is a copy of the work being run
       * (queued twice, past JetStream's deduplication window), not the work of a lost executor.
       */
      firstDelivery?: boolean;
      /**
       * Whether the attempt the job runs is alive, as its executor's heartbeats tell (absent: not
       * asked): alive, a work message is a copy of its work, whichever delivery it is; not, the
       * work starts a new attempt, even on a first delivery (a NATS server that lost its consumers'
       * state redelivers work as if for the first time).
       */
      holderAlive?: boolean;
      /**
       * The attempt the work message was dispatched for: a job dispatched again (a retry) starts
       * only from its newest work, never from an older message JetStream still redelivers.
       */
      dispatchedAttempt?: number;
      /** When it starts, by the executor's clock (ISO 8601). */
      at?: string;
      /** The executor's clock when it is not real time (see `job.started`). */
      clock?: ExecutorClock;
    }
  | {
      kind: 'succeed';
      /** The attempt that succeeded: a superseded one (a newer attempt runs) decides nothing. */
      attempt: number;
      durationMs: number;
      outputs: EventData<'job.succeeded'>['outputs'];
      /** How long staging each input took (none: not measured, or no inputs). */
      loads?: EventData<'job.succeeded'>['loads'];
    }
  | { kind: 'fail'; data: EventData<'job.failed'> }
  | { kind: 'cancel'; reason: string }
  /** A sweep trial its early-stopping rule judged hopeless: it ends cancelled, saying why. */
  | { kind: 'stop_early'; decision: StopDecision }
  /** The wait of retry `retry` is over: queue the job again (see {@link retryDueInMs}). */
  | { kind: 'requeue'; retry: number }
  /** It cannot run: `step`, which it needs, did not succeed. */
  | { kind: 'skip'; reason: string; step: string }
  /**
   * Its run's reuse plan left it out and nothing needed it after all: it ends skipped with
   * `notNeeded`, never having been queued. `step` names a step that reads it, `from` the earlier
   * job whose result that step was signed with.
   */
  | { kind: 'leave_out'; reason: string; step: string; from: string | null }
  | { kind: 'report_metrics'; data: EventData<'job.metrics_reported'> }
  /** Move the running attempt to another configuration (see `job.rescale_requested`). */
  | { kind: 'request_rescale'; data: EventData<'job.rescale_requested'> }
  /** The attempt asked to rescale stopped: queue the job again on its new configuration. */
  | { kind: 'end_for_rescale'; attempt: number; durationMs: number | null }
  | { kind: 'record_checkpoint'; data: EventData<'job.checkpointed'> };

const TERMINAL: ReadonlySet<JobState['status']> = new Set([
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
]);

/** A failure before any attempt ran (an input that cannot be staged, no configuration for it). */
export function failedBeforeAnyAttempt(
  reason: EventData<'job.failed'>['reason'],
  message: string,
): EventData<'job.failed'> {
  return {
    reason,
    message,
    exitCode: null,
    signal: null,
    durationMs: null,
    lastLines: [],
    attempt: null,
  };
}

export function isTerminal(status: JobState['status']): boolean {
  return TERMINAL.has(status);
}

/**
 * How a job an executor just settled ended, for its log's end marker: what the decider made of
 * the outcome (a cancel may have come first), counting anything not succeeded or cancelled as failed.
 */
export function endedAs(state: JobState): 'succeeded' | 'failed' | 'cancelled' {
  return state.status === 'succeeded' || state.status === 'cancelled' ? state.status : 'failed';
}

export const jobDecider: Decider<JobState, JobCommand, NewEvent> & {
  creationEvents: ReadonlySet<string>;
} = {
  // A job that is queued was nothing before (cancel of a never-queued job comes after, if ever).
  creationEvents: new Set(['job.queued', 'job.reused']),
  initialState: () => ({
    status: 'none',
    runId: null,
    name: null,
    command: [],
    env: {},
    resources: null,
    pool: null,
    inputs: [],
    outputs: [],
    timeoutSeconds: null,
    network: 'default',
    secrets: {},
    provision: null,
    attempt: 0,
    dispatchedAttempt: 0,
    checkpoint: null,
    retries: null,
    retry: 0,
    committed: [],
  }),

  decide(command, state) {
    switch (command.kind) {
      case 'queue':
        // Queueing is idempotent: the scheduler may be asked twice after a redelivery.
        return state.status === 'none' ? [{ type: 'job.queued', data: command.data }] : [];
      case 'reuse':
        // In place of queueing it, so as idempotent.
        return state.status === 'none' ? [{ type: 'job.reused', data: command.data }] : [];
      case 'provision':
        return state.status === 'queued' ? [{ type: 'job.provisioned', data: command.data }] : [];
      case 'dispatch':
        return state.status === 'provisioned'
          ? [{ type: 'job.dispatched', data: { pool: command.pool, attempt: state.attempt + 1 } }]
          : [];
      case 'start':
        if (state.status === 'cancelled') {
          throw new AcaiError(
            RunProblems.JOB_CANCELLED_BEFORE_START,
            'The job was cancelled before it started',
          );
        }
        if (
          (state.status === 'dispatched' || state.status === 'running') &&
          command.dispatchedAttempt !== undefined &&
          command.dispatchedAttempt !== state.dispatchedAttempt
        ) {
          throw new AcaiError(
            RunProblems.JOB_CANNOT_START,
            `This work message is of attempt ${command.dispatchedAttempt}; the job was dispatched again since, as attempt ${state.dispatchedAttempt}`,
          );
        }
        const at = {
          ...(command.at === undefined ? {} : { at: command.at }),
          ...(command.clock === undefined ? {} : { clock: command.clock }),
        };
        if (state.status === 'dispatched') {
          return [
            {
              type: 'job.started',
              data: { executor: command.executor, attempt: state.attempt, pid: command.pid, ...at },
            },
          ];
        }
        if (state.status === 'running') {
          if (command.holderAlive ?? command.firstDelivery === true) {
            throw new AcaiError(
              RunProblems.JOB_CANNOT_START,
              `The job runs already (attempt ${state.attempt}): this work message is a copy of its work, not a redelivery`,
            );
          }
          // The work was redelivered: the executor that ran it is gone. This is a new attempt.
          return [
            {
              type: 'job.started',
              data: {
                executor: command.executor,
                attempt: state.attempt + 1,
                pid: command.pid,
                ...at,
              },
            },
          ];
        }
        if (isTerminal(state.status)) return [];
        throw new AcaiError(
          RunProblems.JOB_CANNOT_START,
          `A job that is ${state.status} cannot start`,
        );
      case 'succeed':
        // Only the attempt that owns the job settles it: a late or zombie one decides nothing.
        return state.status === 'running' && command.attempt === state.attempt
          ? [
              {
                type: 'job.succeeded',
                data: {
                  exitCode: 0,
                  durationMs: command.durationMs,
                  outputs: command.outputs,
                  attempt: command.attempt,
                  ...(command.loads === undefined || command.loads.length === 0
                    ? {}
                    : { loads: command.loads }),
                },
              },
            ]
          : [];
      case 'fail': {
        // A job may fail before it is queued (its inputs could not be found), but never twice;
        // an attempt's failure counts only while that attempt owns the job, and none owns a job
        // waiting for its retry.
        if (isTerminal(state.status) || state.status === 'retrying') return [];
        if (
          command.data.attempt !== null &&
          (state.status !== 'running' || command.data.attempt !== state.attempt)
        ) {
          return [];
        }
        const policy = state.retries;
        if (
          policy !== null &&
          state.retry < policy.max &&
          policy.on.includes(command.data.reason)
        ) {
          const retry = state.retry + 1;
          return [
            {
              type: 'job.retry_scheduled',
              data: { ...command.data, retry, delayMs: retryDelayMs(policy, retry) },
            },
          ];
        }
        return [{ type: 'job.failed', data: command.data }];
      }
      case 'requeue':
        // Once per retry: a redelivery of the retry, or another replica's, finds it queued.
        return state.status === 'retrying' && state.retry === command.retry
          ? [{ type: 'job.requeued', data: { retry: command.retry } }]
          : [];
      case 'skip':
        return isTerminal(state.status)
          ? []
          : [{ type: 'job.skipped', data: { reason: command.reason, step: command.step } }];
      case 'leave_out':
        // Only a job never queued: one that was is running, or ran, for its run already.
        return state.status === 'none'
          ? [
              {
                type: 'job.skipped',
                data: {
                  reason: command.reason,
                  step: command.step,
                  notNeeded: { from: command.from },
                },
              },
            ]
          : [];
      case 'report_metrics': {
        // Metrics belong to the attempt that is running; late ones of an ended job are dropped,
        // and a batch sent again (numbered, its answer lost) is recorded once.
        const batch = command.data.batch;
        const again = batch !== undefined && batch <= (state.metricsBatch ?? 0);
        return state.status === 'running' && command.data.attempt === state.attempt && !again
          ? [{ type: 'job.metrics_reported', data: command.data }]
          : [];
      }
      case 'request_rescale':
        // Only the attempt that runs, once: a decision made again on a redelivery asks nothing.
        return state.status === 'running' &&
          command.data.attempt === state.attempt &&
          (state.rescale ?? null) === null
          ? [{ type: 'job.rescale_requested', data: command.data }]
          : [];
      case 'end_for_rescale': {
        const pending = state.rescale ?? null;
        return state.status === 'running' &&
          command.attempt === state.attempt &&
          pending !== null &&
          pending.attempt === command.attempt
          ? [
              {
                type: 'job.rescaled',
                data: {
                  attempt: command.attempt,
                  // Whole milliseconds (a virtual clock's are not).
                  durationMs: command.durationMs === null ? null : Math.round(command.durationMs),
                  to: pending.to,
                  checkpoint: state.checkpoint,
                },
              },
            ]
          : [];
      }
      case 'record_checkpoint':
        // Only the attempt that runs may move the checkpoint: a lost executor's late commit must
        // not replace the one its successor made since.
        return state.status === 'running' && command.data.attempt === state.attempt
          ? [{ type: 'job.checkpointed', data: command.data }]
          : [];
      case 'cancel':
        return isTerminal(state.status)
          ? []
          : [{ type: 'job.cancelled', data: { reason: command.reason } }];
      case 'stop_early': {
        const objective = state.trial?.objective ?? null;
        // Only a trial with an objective is judged; one that has ended (or stopped) stays so.
        if (isTerminal(state.status) || objective === null) return [];
        const { rule, step, value, threshold, compared, reason } = command.decision;
        return [
          {
            type: 'job.cancelled',
            data: { reason, earlyStopped: { rule, objective, step, value, threshold, compared } },
          },
        ];
      }
      default:
        return assertUnreachable(command, 'job command');
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'job.queued':
        return {
          ...state,
          status: 'queued',
          runId: event.data.runId,
          name: event.data.name,
          command: event.data.command,
          env: event.data.env,
          resources: event.data.resources,
          requested: event.data.resources,
          pinned: event.data.provision?.offer !== undefined,
          inputs: event.data.inputs,
          outputs: event.data.outputs,
          timeoutSeconds: event.data.timeoutSeconds,
          network: event.data.network,
          secrets: event.data.secrets,
          provision: event.data.provision,
          retries: event.data.retries,
          ...(event.data.share == null ? {} : { share: event.data.share }),
          trial: event.data.trial ?? null,
          ...(event.data.signature?.codeSha256 == null
            ? {}
            : { code: event.data.signature.codeSha256 }),
        };
      case 'job.reused':
        return {
          ...state,
          status: 'succeeded',
          runId: event.data.runId,
          name: event.data.name,
          command: event.data.command,
          env: event.data.env,
          inputs: event.data.inputs,
          committed: event.data.outputs,
          trial: event.data.trial ?? null,
          reusedFrom: event.data.from.jobId,
        };
      case 'job.retry_scheduled':
        return {
          ...measured(state, event.data.durationMs),
          status: 'retrying',
          retry: event.data.retry,
        };
      case 'job.requeued':
        return { ...state, status: 'queued', pool: null };
      case 'job.skipped':
        return { ...state, status: 'skipped' };
      case 'job.provisioned':
        return {
          ...state,
          status: 'provisioned',
          pool: event.data.pool,
          resources: event.data.resources,
          pricePerHour: event.data.offer?.pricePerHour ?? null,
          offer: event.data.offer ?? null,
          ...(event.data.placedAt === undefined && state.placedAt == null
            ? {}
            : { placedAt: event.data.placedAt ?? null }),
        };
      case 'job.dispatched':
        return {
          ...state,
          status: 'dispatched',
          pool: event.data.pool,
          attempt: event.data.attempt,
          dispatchedAttempt: event.data.attempt,
        };
      case 'job.started': {
        // Started while another attempt ran: that one was lost, and ran until now at its price.
        const at = event.data.at ?? null;
        const before = state.startedAt ?? null;
        const lostMs =
          state.status === 'running' && at !== null && before !== null
            ? Date.parse(at) - Date.parse(before)
            : null;
        // Its first start where it was placed: the instance was billed from its placement, and
        // that wait (the boot, an executor taking the work) is spent at its price too.
        const placedMs =
          state.status === 'running' ? null : placedToStartMs(state.placedAt ?? null, event.data);
        const counted = lostMs !== null && lostMs > 0 ? measured(state, lostMs) : state;
        return {
          ...(placedMs !== null ? measured(counted, placedMs) : counted),
          ...(state.placedAt == null ? {} : { placedAt: null }),
          ...(placedMs !== null ? { placedToStartSeconds: placedMs / 1000 } : {}),
          startedAt: at,
          clock: event.data.clock ?? null,
          executor: event.data.executor,
          status: 'running',
          attempt: event.data.attempt,
          metricsBatch: 0,
          // The last attempt's pace is kept until this one reports: its rate judges this one's
          // first report (see `withPace`), which may be its only one before it ends.
          rescale: null,
        };
      }
      case 'job.rescale_requested':
        return {
          ...state,
          rescale: {
            attempt: event.data.attempt,
            to: {
              provider: event.data.to.provider,
              name: event.data.to.name,
              vCpu: event.data.to.vCpu,
              memoryMb: event.data.to.memoryMb,
              pricePerHour: event.data.to.pricePerHour,
            },
            graceSeconds: event.data.graceSeconds,
            reason: event.data.reason,
          },
          rescales: (state.rescales ?? 0) + 1,
        };
      case 'job.rescaled':
        // Queued again, pinned to the new configuration: the provisioner places it there.
        return {
          ...measured(state, event.data.durationMs),
          status: 'queued',
          pool: null,
          resources: { cpu: event.data.to.vCpu, memoryMb: event.data.to.memoryMb },
          provision: {
            ...(state.provision ?? {}),
            offer: event.data.to.name,
            providers: [event.data.to.provider as 'local' | 'ec2' | 'simulated'],
          },
          rescale: null,
        };
      case 'job.metrics_reported': {
        const batched = withPace(
          event.data.batch === undefined ? state : { ...state, metricsBatch: event.data.batch },
          event.data,
        );
        const metric = state.trial?.objective?.metric;
        const points = event.data.points.filter((p) => p.name === metric);
        return points.length === 0
          ? batched
          : { ...batched, objectiveSeries: withPoints(state.objectiveSeries ?? [], points) };
      }
      case 'job.checkpointed':
        return {
          ...state,
          checkpoint: {
            fileset: event.data.fileset,
            version: event.data.version,
            step: event.data.step,
          },
        };
      case 'job.succeeded':
        return {
          ...measured(state, event.data.durationMs),
          status: 'succeeded',
          committed: event.data.outputs,
        };
      case 'job.failed':
        return { ...measured(state, event.data.durationMs), status: 'failed' };
      case 'job.cancelled':
        return { ...state, status: 'cancelled' };
      default:
        return state;
    }
  },
};

/** The state with the steps an attempt reported folded into its pace (its own points only). */
function withPace(state: JobState, data: EventData<'job.metrics_reported'>): JobState {
  if (data.attempt !== state.attempt) return state;
  let pace = state.pace ?? null;
  let earlier: Pace['earlier'] = null;
  let earlierTotal: number | null = null;
  if (pace !== null && pace.attempt !== data.attempt) {
    const steps = pace.lastStep - pace.firstStep;
    const ms = pace.lastAt - pace.firstAt;
    earlier =
      steps > 0 && ms > 0
        ? { stepsPerSecond: (steps * 1000) / ms, offer: pace.offer ?? null }
        : (pace.earlier ?? null);
    earlierTotal = pace.totalSteps;
    pace = null;
  }
  for (const point of data.points) {
    if (point.name === STEPS_TOTAL_METRIC) {
      if (Number.isInteger(point.value) && point.value > 0 && pace !== null)
        pace = { ...pace, totalSteps: point.value };
    }
    if (point.step === null) continue;
    const at = Date.parse(point.time);
    if (!Number.isFinite(at)) continue;
    const total =
      point.name === STEPS_TOTAL_METRIC && Number.isInteger(point.value) && point.value > 0
        ? point.value
        : (pace?.totalSteps ?? earlierTotal);
    if (pace === null) {
      pace = {
        attempt: data.attempt,
        firstStep: point.step,
        firstAt: at,
        lastStep: point.step,
        lastAt: at,
        totalSteps: total,
        ...(state.offer == null ? {} : { offer: state.offer.name }),
        ...(earlier == null ? {} : { earlier }),
      };
    } else if (point.step > pace.lastStep) {
      pace = { ...pace, lastStep: point.step, lastAt: at, totalSteps: total };
    } else {
      pace = { ...pace, totalSteps: total };
    }
  }
  return pace === (state.pace ?? null) ? state : { ...state, pace };
}

/**
 * Milliseconds, by the job's clock, from its placement (`placedAt`, real time) to the start `data`
 * records; null when either is not known. The start's clock (a simulated node's runs faster than
 * real time) maps the real interval onto the job's clock.
 */
function placedToStartMs(placedAt: string | null, data: EventData<'job.started'>): number | null {
  if (placedAt === null) return null;
  const placed = Date.parse(placedAt);
  if (!Number.isFinite(placed)) return null;
  const clock = data.clock ?? null;
  const ms =
    clock !== null
      ? (Date.parse(clock.realAt) - placed) * clock.rate
      : data.at === undefined
        ? Number.NaN
        : Date.parse(data.at) - placed;
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

/** The state with an attempt's running time, and its cost at the price it was placed at, added. */
function measured(state: JobState, durationMs: number | null): JobState {
  if (durationMs === null) return state;
  const seconds = durationMs / 1000;
  const before = state.spent ?? { seconds: 0, cost: 0 };
  return {
    ...state,
    spent: {
      seconds: before.seconds + seconds,
      cost: before.cost + (seconds * (state.pricePerHour ?? 0)) / 3600,
    },
  };
}

/**
 * The job as it was when its work was dispatched, read off the work message: an executor starts
 * from it without a read. If the job moved on since (cancelled, or this is a redelivery), appending
 * at this version conflicts, the job is read, and the decision is made again on what it really is.
 */
export function dispatchedState(work: WorkAssignment, pool: string): JobState {
  return {
    status: 'dispatched',
    runId: work.runId,
    name: work.name,
    command: work.command,
    env: work.env,
    resources: work.resources,
    pool,
    inputs: work.inputs,
    outputs: work.outputs,
    timeoutSeconds: work.timeoutSeconds,
    network: work.network,
    secrets: work.secrets,
    provision: null,
    attempt: work.attempt,
    dispatchedAttempt: work.attempt,
    checkpoint: work.checkpoint,
    retries: work.retries,
    retry: work.retry,
    committed: [],
  };
}

/**
 * How long retry `retry` (1 for the first) waits: `backoffSeconds × 2^(retry-1)`, at most an hour.
 * A function of the policy and the count only, so a decision made again waits the same.
 */
export function retryDelayMs(policy: RetryPolicy, retry: number): number {
  const seconds = Math.min(policy.backoffSeconds * 2 ** (retry - 1), MAX_RETRY_DELAY_SECONDS);
  return Math.round(seconds * 1000);
}

/**
 * How long until a job waiting for retry `retry` (scheduled at `scheduledAt`, an ISO time, for
 * `delayMs`) is due, at `now`: 0 or less when it is due. The due time lives in the log (the
 * `job.retry_scheduled` event), so a scheduler that restarts derives it again.
 */
export function retryDueInMs(scheduledAt: string, delayMs: number, now: Date): number {
  return Date.parse(scheduledAt) + delayMs - now.getTime();
}
