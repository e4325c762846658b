import { AcaiError, ProvisioningProblems } from '@acai/contracts';
import { at, leastSquares } from './linear.js';

/** One EC2 instance type acai can provision, as data. */
export interface InstanceType {
  /** The EC2 name, e.g. `c5.xlarge`. */
  readonly name: string;
  /** The part before the dot, e.g. `c5`. */
  readonly family: string;
  readonly vCpu: number;
  readonly memoryMb: number;
  /** On-demand Linux list price in us-east-1, USD per hour. See {@link PRICE_SOURCE}. */
  readonly pricePerHour: number;
  /** A typical us-east-1 Spot price, USD per hour. Approximate: it moves by zone and hour. */
  readonly spotPricePerHour: number;
  /**
   * Burstable (T) types only: the CPU fraction per vCPU the instance may sustain without spending
   * credits, e.g. 0.2 for t3.small. A long job settles at this speed once its credits are spent.
   */
  readonly burstBaseline?: number;
  /** GPUs attached (NVIDIA T4 on g4dn). Absent: none. */
  readonly gpus?: number;
}

/**
 * Where the figures come from. Shown with every price, because a plan is only as good as them.
 */
export const PRICE_SOURCE =
  'On-demand prices are the AWS list prices for Linux in us-east-1 as published on ' +
  'aws.amazon.com/ec2/pricing/on-demand, copied into this catalogue, not fetched at run time; vCPU, ' +
  'memory, GPU and T3 baseline figures are from the EC2 instance-type documentation. Spot prices are approximate typical us-east-1 figures ' +
  '(roughly 35–45 % of on-demand) and vary by zone and hour. None of these include EBS, data transfer, ' +
  'Savings Plans or Reserved Instance discounts. Deployments with other regions or negotiated rates ' +
  'pass their own prices (ec2Offers `prices`).';

const GIB = 1024;

/** The instance types acai offers, smallest first within a family. */
export const INSTANCE_TYPES: readonly InstanceType[] = [
  // Burstable: cheap, but a CPU-bound job runs at the baseline once its credits are gone.
  t3('t3.micro', 2, 1, 0.0104, 0.0035, 0.1),
  t3('t3.small', 2, 2, 0.0208, 0.007, 0.2),
  t3('t3.medium', 2, 4, 0.0416, 0.0125, 0.2),
  t3('t3.large', 2, 8, 0.0832, 0.025, 0.3),
  t3('t3.xlarge', 4, 16, 0.1664, 0.05, 0.4),
  // Compute optimised, 2 GiB per vCPU.
  fixed('c5.large', 2, 4, 0.085, 0.035),
  fixed('c5.xlarge', 4, 8, 0.17, 0.07),
  fixed('c5.2xlarge', 8, 16, 0.34, 0.14),
  fixed('c5.4xlarge', 16, 32, 0.68, 0.28),
  fixed('c6i.large', 2, 4, 0.085, 0.034),
  fixed('c6i.xlarge', 4, 8, 0.17, 0.068),
  // General purpose, 4 GiB per vCPU.
  fixed('m5.large', 2, 8, 0.096, 0.04),
  fixed('m5.xlarge', 4, 16, 0.192, 0.08),
  fixed('m5.2xlarge', 8, 32, 0.384, 0.16),
  fixed('m5.4xlarge', 16, 64, 0.768, 0.32),
  // Memory optimised, 8 GiB per vCPU.
  fixed('r5.large', 2, 16, 0.126, 0.045),
  fixed('r5.xlarge', 4, 32, 0.252, 0.09),
  fixed('r5.2xlarge', 8, 64, 0.504, 0.18),
  // One NVIDIA T4.
  { ...fixed('g4dn.xlarge', 4, 16, 0.526, 0.21), gpus: 1 },
];

const BY_NAME: ReadonlyMap<string, InstanceType> = new Map(INSTANCE_TYPES.map((t) => [t.name, t]));

/**
 * The catalogue entry for an instance type name.
 * @throws AcaiError `INSTANCE_TYPE_UNKNOWN` naming the valid types when there is no such entry.
 */
export function instanceType(name: string): InstanceType {
  const found = BY_NAME.get(name);
  if (found === undefined) {
    throw new AcaiError(
      ProvisioningProblems.INSTANCE_TYPE_UNKNOWN,
      `Unknown instance type '${name}': acai offers ${INSTANCE_TYPES.map((t) => t.name).join(', ')}`,
      [{ path: 'instanceType', message: 'not in the catalogue' }],
    );
  }
  return found;
}

/** What one vCPU-hour and one GiB-hour are worth, fitted from the catalogue. */
export interface ResourceRates {
  /** USD per vCPU per hour. */
  readonly perVcpuHour: number;
  /** USD per GiB of memory per hour. */
  readonly perGibHour: number;
}

export interface FittedRates extends ResourceRates {
  /** The instance types the rates were fitted on. */
  readonly fittedOn: readonly string[];
  /** The largest |fitted − list| / list over those types, e.g. 0.019 for 1.9 %. */
  readonly maxRelativeError: number;
}

/**
 * Per-vCPU-hour and per-GiB-hour rates that reproduce the catalogue's prices: the least-squares fit
 * of `price ≈ a·vCpu + b·GiB` (no intercept: an instance of nothing costs nothing) over the types
 * whose price buys steady, CPU-only capacity, so the non-burstable, non-GPU ones (c5, c6i, m5, r5).
 * T3 is left out because its price buys a fraction of a CPU, g4dn because it mostly pays for a GPU.
 *
 * The fit minimises the *relative* error (each row is divided by its price), so a c5.large counts
 * as much as a c5.4xlarge; an ordinary fit would weight the large sizes by their price squared and
 * let them set the rates alone. Within a family AWS prices are linear in size, so what the fit
 * really reconciles is the three memory-per-vCPU ratios (2, 4 and 8 GiB): on this catalogue it
 * gives about $0.0355 per vCPU-hour and $0.00335 per GiB-hour, within 2 % of every fitted type.
 *
 * These rates price local slots, so that a job on this machine is charged what the same resources
 * would cost in the cloud, and local and EC2 offers can be compared on one scale.
 * @throws AcaiError `RATES_UNFIT` when the catalogue cannot tell a vCPU's price from a GiB's.
 */
export function catalogueRates(catalogue: readonly InstanceType[] = INSTANCE_TYPES): FittedRates {
  const fitted = catalogue.filter((t) => t.burstBaseline === undefined && (t.gpus ?? 0) === 0);
  if (fitted.length < 2) {
    throw new AcaiError(
      ProvisioningProblems.RATES_UNFIT,
      `Cannot fit resource rates: the catalogue has ${fitted.length} non-burstable CPU instance type(s), at least 2 are needed`,
    );
  }
  const rows = fitted.map((t) => [t.vCpu / t.pricePerHour, t.memoryMb / GIB / t.pricePerHour]);
  const solution = leastSquares(
    rows,
    fitted.map(() => 1),
  );
  if (solution === undefined) {
    throw new AcaiError(
      ProvisioningProblems.RATES_UNFIT,
      'Cannot fit resource rates: every fitted instance type has the same memory per vCPU, so CPU and memory prices cannot be told apart; include types of another memory per vCPU (e.g. m5 or r5 beside c5)',
    );
  }
  const perVcpuHour = at(solution, 0);
  const perGibHour = at(solution, 1);
  let maxRelativeError = 0;
  for (const t of fitted) {
    const predicted = perVcpuHour * t.vCpu + (perGibHour * t.memoryMb) / GIB;
    maxRelativeError = Math.max(
      maxRelativeError,
      Math.abs(predicted - t.pricePerHour) / t.pricePerHour,
    );
  }
  return { perVcpuHour, perGibHour, fittedOn: fitted.map((t) => t.name), maxRelativeError };
}

function familyOf(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}

function fixed(
  name: string,
  vCpu: number,
  memoryGib: number,
  pricePerHour: number,
  spotPricePerHour: number,
): InstanceType {
  return {
    name,
    family: familyOf(name),
    vCpu,
    memoryMb: memoryGib * GIB,
    pricePerHour,
    spotPricePerHour,
  };
}

function t3(
  name: string,
  vCpu: number,
  memoryGib: number,
  pricePerHour: number,
  spotPricePerHour: number,
  burstBaseline: number,
): InstanceType {
  return { ...fixed(name, vCpu, memoryGib, pricePerHour, spotPricePerHour), burstBaseline };
}
