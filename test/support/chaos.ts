/**
 * The chaos suite's fault schedule: which process dies, and when, drawn from one seed so that a
 * failure re-runs exactly (`ACAI_CHAOS_SEED=<seed>`). Pure: no I/O, no clock.
 */

/** The services `startStack` runs as processes of their own (deploy/local/services.json). */
export const SERVICES = [
  'gateway',
  'scheduler',
  'provisioner',
  'catalog',
  'provenance',
  'executor',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The servers `startStack` runs and supervises itself. */
export const SERVERS = ['nats-server', 'postgres'] as const;
export type ServerName = (typeof SERVERS)[number];

/** Used when `ACAI_CHAOS_SEED` is not set, so that CI runs the same schedule every time. */
export const DEFAULT_CHAOS_SEED = 20_260_611;

/** The seed of this run: `ACAI_CHAOS_SEED` (an unsigned 32-bit integer) or the default. */
export function chaosSeed(env: NodeJS.ProcessEnv): number {
  const raw = env['ACAI_CHAOS_SEED'];
  if (raw === undefined || raw === '') return DEFAULT_CHAOS_SEED;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new Error(`ACAI_CHAOS_SEED must be an integer from 0 to 4294967295, not "${raw}"`);
  }
  return seed;
}

/** A small, fast PRNG with 32 bits of state (mulberry32): numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A process of the fan-out's stack gets SIGKILL once `afterEnded` of its jobs have ended. */
export interface KillFault<Victim extends string> {
  readonly victim: Victim;
  readonly afterEnded: number;
}

/** The executor is SIGSTOPped once `afterEnded` jobs have ended, and continued `stoppedMs` later. */
export interface StallFault {
  readonly afterEnded: number;
  readonly stoppedMs: number;
}

/** The catalog is stopped once `afterEnded` jobs have ended, for `downMs`, while runs are submitted. */
export interface OutageFault {
  readonly afterEnded: number;
  readonly downMs: number;
}

/** MNIST training: nats-server dies once epoch `busAfterEpoch` is checkpointed, the executor once `executorAfterEpoch` is. */
export interface TrainingFault {
  readonly busAfterEpoch: number;
  readonly executorAfterEpoch: number;
}

export interface FaultSchedule {
  readonly seed: number;
  /** Every service once, in a seeded order, each at a seeded point of its own fan-out. */
  readonly services: readonly KillFault<ServiceName>[];
  /** nats-server and Postgres, each at a seeded point of its own fan-out. */
  readonly servers: readonly KillFault<ServerName>[];
  readonly stall: StallFault;
  readonly outage: OutageFault;
  readonly training: TrainingFault;
}

export interface ScheduleShape {
  /** Jobs of one fan-out. */
  readonly jobs: number;
  /** Epochs of the MNIST training (at least 4). */
  readonly epochs: number;
  /** How long the executors' work waits for a lease heartbeat before it is handed out again. */
  readonly ackWaitMs: number;
}

/**
 * The schedule of `seed`. A service dies after 1 to 60 % of its fan-out's jobs ended (some are
 * running, most are queued); nats-server and Postgres within the first 10 % (while most work is
 * being dispatched), 0 meaning as soon as the runs are submitted. The executor stalls past its
 * work's ack wait by 1 to 5 s. MNIST loses its bus after an early epoch and its executor after a
 * later one (with two epochs left), so the resume starts from a checkpoint made after the outage.
 */
export function faultSchedule(seed: number, shape: ScheduleShape): FaultSchedule {
  const random = mulberry32(seed);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const order: ServiceName[] = [...SERVICES];
  for (let i = order.length - 1; i > 0; i--) {
    const j = between(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const { jobs, epochs } = shape;
  const services = order.map((victim) => ({
    victim,
    afterEnded: between(1, Math.floor(jobs * 0.6)),
  }));
  const servers = SERVERS.map((victim) => ({
    victim,
    afterEnded: between(0, Math.floor(jobs / 10)),
  }));
  const stall = {
    afterEnded: between(1, Math.floor(jobs / 2)),
    stoppedMs: shape.ackWaitMs + between(1_000, 5_000),
  };
  const outage = { afterEnded: between(0, Math.floor(jobs / 5)), downMs: 60_000 };
  // Two epochs are left after the last fault: time enough for it to land while training runs.
  const busAfterEpoch = between(1, epochs - 3);
  const training = { busAfterEpoch, executorAfterEpoch: between(busAfterEpoch + 1, epochs - 2) };
  return { seed, services, servers, stall, outage, training };
}

/** The schedule in one line per fault, to print before the faults and to quote in a failure. */
export function describeSchedule(schedule: FaultSchedule, shape: ScheduleShape): string {
  const { jobs, epochs } = shape;
  return [
    `chaos seed ${schedule.seed} (re-run with ACAI_CHAOS_SEED=${schedule.seed}):`,
    ...[...schedule.services, ...schedule.servers].map(
      (f) => `  SIGKILL ${f.victim} after ${f.afterEnded} of ${jobs} jobs ended`,
    ),
    `  SIGSTOP executor after ${schedule.stall.afterEnded} of ${jobs} jobs ended, SIGCONT ${schedule.stall.stoppedMs} ms later`,
    `  stop catalog after ${schedule.outage.afterEnded} of ${jobs} jobs ended, for ${schedule.outage.downMs / 1000} s while more runs are submitted`,
    `  SIGKILL provenance while a replay is being built`,
    `  MNIST (${epochs} epochs): SIGKILL nats-server after epoch ${schedule.training.busAfterEpoch} is checkpointed, the executor after epoch ${schedule.training.executorAfterEpoch}`,
  ].join('\n');
}
