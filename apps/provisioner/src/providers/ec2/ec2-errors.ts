/**
 * How the EC2 provider reads AWS errors and what it throws. Pure: no I/O, no clock.
 *
 * The EC2 API speaks the `ec2Query` protocol and models none of its errors, so the SDK throws a
 * generic `EC2ServiceException` whose `name` and `Code` (and `Error.Code`) are the wire code,
 * e.g. `InsufficientInstanceCapacity`, with `$metadata.httpStatusCode`. We read `Code` first, then
 * `Error.Code`, then `name`, then a Node `code` (`ECONNRESET`): hand-made errors in tests and
 * network errors carry only some of these.
 */

import { AcaiError, ProvisioningProblems } from '@acai/contracts';

/** What to do about an AWS error. */
export type Ec2ErrorKind =
  /** Throttling or a passing service fault: retry the same call after a backoff. */
  | 'transient'
  /** No room for this instance type (or quota): try the next acceptable type. */
  | 'capacity'
  /** Anything else (permissions, a bad AMI or parameter): retrying will not help. */
  | 'fatal';

const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ServiceUnavailable',
  'Unavailable',
  'InternalError',
  'InternalFailure',
  // The SDK already retried these network failures; a later try usually succeeds. RunInstances
  // carries a ClientToken, so a retry after a lost answer cannot launch a second instance.
  'TimeoutError',
  'RequestTimeout',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'Unsupported',
]);

/** Codes that say "raise a quota" rather than "no room right now". */
const QUOTA_CODES: ReadonlySet<string> = new Set([
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
]);

/** Names that say nothing about the failure, so are not taken as its code. */
const GENERIC_NAMES: ReadonlySet<string> = new Set(['Error', 'EC2ServiceException']);

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The AWS error code of an SDK error (`InsufficientInstanceCapacity`), if it has one. */
export function ec2ErrorCode(error: unknown): string | undefined {
  const name = nonEmptyString(field(error, 'name'));
  return (
    nonEmptyString(field(error, 'Code')) ??
    nonEmptyString(field(field(error, 'Error'), 'Code')) ??
    (name !== undefined && !GENERIC_NAMES.has(name) ? name : undefined) ??
    nonEmptyString(field(error, 'code'))
  );
}

/** The HTTP status of the answer that carried an SDK error, if there was one. */
export function ec2HttpStatus(error: unknown): number | undefined {
  const status = field(field(error, '$metadata'), 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/** Sorts an AWS error into retry the call / try another type / give up. */
export function classifyEc2Error(error: unknown): Ec2ErrorKind {
  const code = ec2ErrorCode(error);
  if (code !== undefined && CAPACITY_CODES.has(code)) return 'capacity';
  if (code !== undefined && TRANSIENT_CODES.has(code)) return 'transient';
  if (ec2HttpStatus(error) === 503) return 'transient';
  return 'fatal';
}

/** `Code: message` for logs and attempt lists (callers redact secrets before showing it). */
export function describeEc2Error(error: unknown): string {
  const code = ec2ErrorCode(error);
  const message =
    error instanceof Error ? error.message : (nonEmptyString(field(error, 'message')) ?? '');
  if (code === undefined) return message === '' ? String(error) : message;
  return message === '' || message === code ? code : `${code}: ${message}`;
}

/** Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export interface RetryPolicy {
  /** Calls of one operation (or one instance type) in all, the first included. */
  readonly attempts: number;
  /** Ceiling of the first wait, in ms. */
  readonly baseMs: number;
  /** Largest ceiling of any wait, in ms. */
  readonly capMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseMs: 500, capMs: 20_000 };

/**
 * The wait before retry number `retry` (0 for the first retry): a uniform draw in
 * [0, min(cap, base × 2^retry)], so many clients throttled together spread out.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** retry);
  return Math.floor(Math.min(Math.max(random(), 0), 1) * ceiling);
}

/** One RunInstances call: the type asked for and, if it failed, why (secrets redacted). */
export interface LaunchAttempt {
  readonly type: string;
  readonly error?: string;
}

/**
 * The problems the EC2 provider raises (`ProvisioningProblems.EC2_*`): each decides the error's
 * `reason`, category and `retryable`, and clients branch on the reason.
 */
export type Ec2Problem = (typeof ProvisioningProblems)[
  | 'EC2_NO_CAPACITY'
  | 'EC2_MAX_INSTANCES'
  | 'EC2_THROTTLED'
  | 'EC2_REJECTED'
  | 'EC2_INVALID_REQUEST'
  | 'EC2_INVALID_CONFIG'];
export type Ec2Reason = Ec2Problem['reason'];

type CapacityProblem = (typeof ProvisioningProblems)['EC2_NO_CAPACITY' | 'EC2_MAX_INSTANCES'];

/**
 * Any failure of the EC2 provider: an {@link AcaiError} of one of the {@link Ec2Problem}s, so
 * whether waiting and retrying can help (capacity, limit, throttling) is its problem's
 * `retryable`, and every RunInstances call made for the request travels with it.
 */
export class Ec2ProviderError extends AcaiError {
  override readonly name: string = 'Ec2ProviderError';
  declare readonly reason: Ec2Reason;

  constructor(
    problem: Ec2Problem,
    message: string,
    /** Every RunInstances call made for the request, in order. */
    readonly attempts: readonly LaunchAttempt[] = [],
    options?: { cause?: unknown },
  ) {
    super(problem, message, undefined, options);
  }
}

/**
 * No instance could be had: every acceptable type failed for capacity or quota
 * (`EC2_NO_CAPACITY`), or the fleet is at `maxInstances` (`EC2_MAX_INSTANCES`). The message says
 * what was tried, each error, and what to do. Retryable: capacity may return, an instance may
 * free up.
 */
export class Ec2CapacityError extends Ec2ProviderError {
  override readonly name: string = 'Ec2CapacityError';
  declare readonly reason: CapacityProblem['reason'];

  constructor(
    problem: CapacityProblem,
    message: string,
    attempts: readonly LaunchAttempt[] = [],
    options?: { cause?: unknown },
  ) {
    super(problem, message, attempts, options);
  }
}

/** AWS kept throttling after every retry (`EC2_THROTTLED`). Retryable later. */
export class Ec2ThrottledError extends Ec2ProviderError {
  override readonly name: string = 'Ec2ThrottledError';
  declare readonly reason: typeof ProvisioningProblems.EC2_THROTTLED.reason;

  constructor(
    message: string,
    attempts: readonly LaunchAttempt[] = [],
    options?: { cause?: unknown },
  ) {
    super(ProvisioningProblems.EC2_THROTTLED, message, attempts, options);
  }
}

/** AWS refused a request for good (`EC2_REJECTED`); `awsCode` is its code. Not retryable. */
export class Ec2RequestError extends Ec2ProviderError {
  override readonly name: string = 'Ec2RequestError';
  declare readonly reason: typeof ProvisioningProblems.EC2_REJECTED.reason;

  constructor(
    readonly awsCode: string,
    message: string,
    attempts: readonly LaunchAttempt[] = [],
    options?: { cause?: unknown },
  ) {
    super(ProvisioningProblems.EC2_REJECTED, message, attempts, options);
  }
}

/** What an operator can do about the capacity failures seen, most useful first. */
export function capacityAdvice(codes: readonly string[]): string[] {
  const seen = new Set(codes);
  const advice: string[] = [];
  if (codes.some((code) => QUOTA_CODES.has(code))) {
    advice.push(
      'raise the EC2 quota named above (Service Quotas, e.g. "Running On-Demand Standard instances" counts vCPUs per instance family)',
    );
  }
  if (seen.has('InsufficientInstanceCapacity') || seen.has('InsufficientCapacity')) {
    advice.push(
      'allow more instance types for the job (other families or sizes), or launch into a subnet in another Availability Zone',
    );
  }
  if (seen.has('Unsupported')) {
    advice.push(
      'use a subnet in an Availability Zone that offers the type, or drop the type from the list',
    );
  }
  advice.push('or run the job again later, when capacity may have returned');
  return advice;
}

/** What to fix when AWS refused a request for good (`EC2_REJECTED`), by its code. */
export function rejectionAdvice(code: string | undefined): string {
  switch (code) {
    case 'UnauthorizedOperation':
    case 'AuthFailure':
      return 'Give the provisioner’s role ec2:RunInstances, ec2:DescribeInstances, ec2:TerminateInstances, ec2:CreateTags (and iam:PassRole for an instance profile).';
    case 'InvalidAMIID.NotFound':
    case 'InvalidAMIID.Malformed':
      return 'Check imageId: the AMI must exist in this region and be shared with this account.';
    case 'InvalidSubnetID.NotFound':
    case 'InvalidGroup.NotFound':
      return 'Check subnetId and securityGroupIds: they must exist in this region and VPC.';
    default:
      return 'Fix the EC2 fleet configuration; retrying the same request will not help.';
  }
}
