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

/** One fault of the fan-out: `victim` gets SIGKILL once `afterEnded` of its jobs have ended. */
export interface ServiceFault {
  readonly victim: ServiceName;
  readonly afterEnded: number;
}

/** nats-server gets SIGKILL once `afterEnded` jobs have ended, and is started again `downMs` later. */
export interface BusFault {
  readonly afterEnded: number;
  readonly downMs: number;
}

export interface FaultSchedule {
  readonly seed: number;
  /** Every service once, in a seeded order, each at a seeded point of its own fan-out. */
  readonly services: readonly ServiceFault[];
  readonly bus: BusFault;
}

/**
 * The schedule of `seed` for fan-outs of `jobs` jobs. A service dies after 1 to 60 % of the jobs
 * ended (some are running, most are queued); nats-server dies within the first 10 % (while most
 * work is being dispatched), 0 meaning as soon as the runs are submitted.
 */
export function faultSchedule(seed: number, jobs: number): FaultSchedule {
  const random = mulberry32(seed);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const order: ServiceName[] = [...SERVICES];
  for (let i = order.length - 1; i > 0; i--) {
    const j = between(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const services = order.map((victim) => ({
    victim,
    afterEnded: between(1, Math.floor(jobs * 0.6)),
  }));
  const bus = { afterEnded: between(0, Math.floor(jobs / 10)), downMs: between(200, 3_000) };
  return { seed, services, bus };
}

/** The schedule in one line per fault, to print before the faults and to quote in a failure. */
export function describeSchedule(schedule: FaultSchedule, jobs: number): string {
  return [
    `chaos seed ${schedule.seed} (re-run with ACAI_CHAOS_SEED=${schedule.seed}):`,
    ...schedule.services.map(
      (f) => `  SIGKILL ${f.victim} after ${f.afterEnded} of ${jobs} jobs ended`,
    ),
    `  SIGKILL nats-server after ${schedule.bus.afterEnded} of ${jobs} jobs ended, down ${schedule.bus.downMs} ms`,
  ].join('\n');
}
