import { createHash } from 'node:crypto';
import { AcaiError, type OfferRef, type Problem, ProvisioningProblems } from '@acai/contracts';
import {
  catalogueRates,
  INSTANCE_TYPES,
  type InstanceType,
  type ResourceRates,
} from './instance-types.js';

export type Provider = 'local' | 'ec2' | 'simulated';

/**
 * One configuration a job could run on, from any provider, on one scale: what it has, what it
 * costs per hour, how fast each vCPU is, how long it takes to be ready, how often it is lost.
 */
export interface Offer {
  readonly provider: Provider;
  /** The instance type (`c5.large`) or a local slot (`local-1.5cpu-2048mb`). */
  readonly name: string;
  readonly vCpu: number;
  readonly memoryMb: number;
  /** USD per hour. */
  readonly pricePerHour: number;
  /**
   * Sustained compute per vCPU relative to a c5 vCPU (= 1). Burstable types get their baseline
   * (t3.small: 0.2), because a job long enough to matter spends its credits and settles there.
   */
  readonly speed: number;
  /** Seconds from asking for the configuration to an executor pulling work on it. */
  readonly bootSeconds: number;
  /** Spot capacity: cheaper, and may be reclaimed (see `interruptionsPerHour`). */
  readonly spot: boolean;
  /** Expected interruptions per hour of running; 0 for on-demand and local slots. */
  readonly interruptionsPerHour: number;
  /** GPUs attached; absent means none. */
  readonly gpus?: number;
}

/**
 * Launch to a registered executor: an EC2 Nitro instance is usually running in 10–30 s and the
 * executor then boots the OS, starts and connects; a minute is a round, slightly pessimistic
 * figure. It also covers EC2's 60 s minimum billing for Linux, so a short job is never priced
 * below what AWS would bill.
 */
export const EC2_BOOT_SECONDS = 60;

/** A local slot is a process on this machine: about a second to spawn and connect. */
export const LOCAL_BOOT_SECONDS = 1;

/**
 * An assumed interruption rate for Spot capacity: one per 100 instance-hours. AWS's Spot Instance
 * Advisor puts these types mostly in its lowest bucket (fewer than 5 % of instances interrupted per
 * month), which would be far less; the figure is deliberately pessimistic because reclaims cluster
 * when capacity tightens, exactly when a batch of jobs is running. Override it per deployment.
 */
export const SPOT_INTERRUPTIONS_PER_HOUR = 0.01;

export interface Ec2OfferOptions {
  /** Spot offers (at `spotPricePerHour`, interruptible) instead of on-demand. Default false. */
  readonly spot?: boolean;
  /** `simulated` for the simulated cloud, which offers the same types. Default `ec2`. */
  readonly provider?: 'ec2' | 'simulated';
  /** Price overrides, USD per hour by instance type name (other regions, negotiated rates). */
  readonly prices?: Readonly<Record<string, number>>;
  readonly bootSeconds?: number;
  readonly interruptionsPerHour?: number;
  readonly catalogue?: readonly InstanceType[];
}

/**
 * One offer per catalogue instance type, on-demand or Spot.
 * @throws AcaiError `PRICES_INVALID` when a price override names an unknown type or is not a
 * positive number; `VALUE_OUT_OF_RANGE` for a negative boot time or interruption rate.
 */
export function ec2Offers(options: Ec2OfferOptions = {}): Offer[] {
  const catalogue = options.catalogue ?? INSTANCE_TYPES;
  const spot = options.spot ?? false;
  const prices = options.prices ?? {};
  const known = new Set(catalogue.map((t) => t.name));
  for (const [name, price] of Object.entries(prices)) {
    if (!known.has(name)) {
      throw new AcaiError(
        ProvisioningProblems.PRICES_INVALID,
        `A price is given for '${name}', which is not in the catalogue (${[...known].join(', ')})`,
        [{ path: `prices.${name}`, message: 'unknown instance type' }],
      );
    }
    positive(price, `prices.${name}`, `the price of ${name}`, ProvisioningProblems.PRICES_INVALID);
  }
  const bootSeconds = options.bootSeconds ?? EC2_BOOT_SECONDS;
  nonNegative(bootSeconds, 'bootSeconds', 'the boot time');
  const interruptions = spot ? (options.interruptionsPerHour ?? SPOT_INTERRUPTIONS_PER_HOUR) : 0;
  nonNegative(interruptions, 'interruptionsPerHour', 'the interruption rate');

  return catalogue.map((t) => {
    const offer: Offer = {
      provider: options.provider ?? 'ec2',
      name: t.name,
      vCpu: t.vCpu,
      memoryMb: t.memoryMb,
      pricePerHour: prices[t.name] ?? (spot ? t.spotPricePerHour : t.pricePerHour),
      // Every non-burstable type here is a Skylake-or-later Xeon at 2.5–3.5 GHz; acai does not
      // guess their differences (a few per cent, workload-dependent) and counts each vCPU as 1.
      speed: t.burstBaseline ?? 1,
      bootSeconds,
      spot,
      interruptionsPerHour: interruptions,
    };
    return t.gpus === undefined ? offer : { ...offer, gpus: t.gpus };
  });
}

export interface LocalShape {
  /** Slot sizes in CPU cores, fractions allowed (0.5 = half a core, enforced by the executor). */
  readonly cpus: readonly number[];
  readonly memoryMb: readonly number[];
  /** Speed of one local core relative to a c5 vCPU. Default 1: measure and set it if it matters. */
  readonly speed?: number;
  readonly bootSeconds?: number;
}

/**
 * Offers for slots on this machine: every `cpus × memoryMb` combination, named
 * `local-<cpu>cpu-<memory>mb`, priced at what the same resources cost in the cloud
 * ({@link catalogueRates}) so local and EC2 offers compare on one scale.
 * @throws AcaiError `VALUE_OUT_OF_RANGE` for a size that is not a positive number (memory: whole
 * MiB).
 */
export function localOffers(shape: LocalShape, rates: ResourceRates = catalogueRates()): Offer[] {
  shape.cpus.forEach((cpu, i) => positive(cpu, `cpus.${i}`, 'a CPU count'));
  shape.memoryMb.forEach((mb, i) => {
    positive(mb, `memoryMb.${i}`, 'a memory size');
    if (!Number.isInteger(mb)) {
      throw new AcaiError(
        ProvisioningProblems.VALUE_OUT_OF_RANGE,
        `Memory sizes are whole MiB, got ${mb}: round it to a whole number`,
        [{ path: `memoryMb.${i}`, message: 'not an integer' }],
      );
    }
  });
  const speed = shape.speed ?? 1;
  positive(speed, 'speed', 'the local speed');
  const bootSeconds = shape.bootSeconds ?? LOCAL_BOOT_SECONDS;
  nonNegative(bootSeconds, 'bootSeconds', 'the boot time');
  const cpus = [...new Set(shape.cpus)].sort((a, b) => a - b);
  const memories = [...new Set(shape.memoryMb)].sort((a, b) => a - b);
  return cpus.flatMap((vCpu) =>
    memories.map((memoryMb): Offer => ({
      provider: 'local',
      name: localSlotName(vCpu, memoryMb),
      vCpu,
      memoryMb,
      pricePerHour: localSlotPrice(vCpu, memoryMb, rates),
      speed,
      bootSeconds,
      spot: false,
      interruptionsPerHour: 0,
    })),
  );
}

/** How a slot of this machine is named: `local-1.5cpu-2048mb`. */
export function localSlotName(vCpu: number, memoryMb: number): string {
  return `local-${vCpu}cpu-${memoryMb}mb`;
}

/**
 * What a slot of this machine costs per hour: its vCPUs and memory at the cloud's fitted rates
 * ({@link catalogueRates}), so a local job is charged what the same resources cost on EC2.
 */
export function localSlotPrice(
  vCpu: number,
  memoryMb: number,
  rates: ResourceRates = catalogueRates(),
): number {
  return vCpu * rates.perVcpuHour + (memoryMb / 1024) * rates.perGibHour;
}

/** How an offer is named in requests and events: its name, with `:spot` for Spot capacity. */
export function offerKey(offer: Offer): string {
  return offer.spot ? `${offer.name}:spot` : offer.name;
}

/** What `job.provisioned` and the provisioner's answers say about a configuration. */
export function offerRef(offer: Offer): OfferRef {
  return {
    provider: offer.provider,
    name: offerKey(offer),
    vCpu: offer.vCpu,
    memoryMb: offer.memoryMb,
    pricePerHour: offer.pricePerHour,
  };
}

/**
 * The work-pool name for an offer: a NATS subject token (letters, digits, `_` and `-`), readable
 * and deterministic. The provider comes first (unless the name already starts with it), a dot
 * between digits becomes `_` and any other dot `-`, Spot offers end in `-spot`:
 * `ec2-c5-large`, `ec2-c5-large-spot`, `simulated-c5-large`, `local-1_5cpu-2048mb`.
 * A name with any other character (`_` included) gets a short hash of itself appended, so distinct
 * names still get distinct pools. (Names that differ only by `.` against `-` would collide;
 * catalogue names have no `-` and local names are generated, so none do.)
 */
export function poolOf(offer: Offer): string {
  const base = offer.name.startsWith(`${offer.provider}-`)
    ? offer.name
    : `${offer.provider}-${offer.name}`;
  let pool = PLAIN.test(base)
    ? base
    : base.replace(/(\d)\.(?=\d)/g, '$1_').replace(/[^A-Za-z0-9_-]/g, '-');
  // In a pool, `_` stands for a dot between digits, so a name with a `_` of its own, or with any
  // other character the mapping rewrites, is kept apart by a hash of the exact name.
  if (/[^A-Za-z0-9.-]/.test(offer.name)) {
    pool = `${pool}-${createHash('sha256').update(offer.name).digest('hex').slice(0, 8)}`;
  }
  return offer.spot ? `${pool}-spot` : pool;
}

/** Already a token, nothing to rewrite: the common case, checked first (plans call this a lot). */
const PLAIN = /^[A-Za-z0-9-]+$/;

/**
 * Offers that can stand in for `offer` when its type has no capacity: same provider and market
 * (Spot or not), at least its vCPUs, memory and GPUs, cheapest first, at most `count`.
 */
export function fallbackOffers(offers: readonly Offer[], offer: Offer, count = 3): Offer[] {
  return offers
    .filter(
      (o) =>
        o.provider === offer.provider &&
        o.name !== offer.name &&
        o.spot === offer.spot &&
        o.vCpu >= offer.vCpu &&
        o.memoryMb >= offer.memoryMb &&
        (o.gpus ?? 0) >= (offer.gpus ?? 0),
    )
    .sort((a, b) => a.pricePerHour - b.pricePerHour || (a.name < b.name ? -1 : 1))
    .slice(0, count);
}

/** How an offer is named to a person: `c5.large`, `c5.large (spot)`, `simulated c5.large`. */
export function offerLabel(offer: Offer): string {
  const prefix = offer.provider === 'simulated' ? 'simulated ' : '';
  return `${prefix}${offer.name}${offer.spot ? ' (spot)' : ''}`;
}

function positive(
  value: number,
  path: string,
  what: string,
  problem: Problem = ProvisioningProblems.VALUE_OUT_OF_RANGE,
): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new AcaiError(problem, `${capitalise(what)} must be a positive number, got ${value}`, [
      { path, message: 'must be a positive number' },
    ]);
  }
}

function nonNegative(value: number, path: string, what: string): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new AcaiError(
      ProvisioningProblems.VALUE_OUT_OF_RANGE,
      `${capitalise(what)} must be zero or more, got ${value}`,
      [{ path, message: 'must be zero or more' }],
    );
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
