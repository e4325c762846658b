import {
  CommonProblems,
  isProblem,
  type CommandName,
  type CommandRequest,
  type CommandResult,
} from '@acai/contracts';
import { classifyFailure } from './failures.js';
import { describeError } from './errors.js';
import { DEFAULT_RETRY_DELAYS, retryDelay, sleep, WAITING_LOG_EVERY_MS } from './patience.js';
import { silentLogger, type EventingLogger } from './logger.js';
import { CommandSender } from './ports.js';

/**
 * Commands that must not be sent twice: one that timed out may have been carried out (its answer
 * lost), so it is sent again only when nobody received it (`SERVICE_UNAVAILABLE`, no responders).
 * A commit sent again on the same parent would be refused, re-read and committed a second time,
 * unless it has a `commitId`, by which the catalog recognises it.
 */
const NOT_IDEMPOTENT: ReadonlySet<CommandName> = new Set<CommandName>([
  'commitVersion',
  'submitRun',
]);

/** Whether a request carries a key its service deduplicates by (a commit's `commitId`). */
function hasIdempotencyKey(request: unknown): boolean {
  return (
    typeof request === 'object' &&
    request !== null &&
    typeof (request as { commitId?: unknown }).commitId === 'string'
  );
}

/**
 * A {@link CommandSender} that waits out the service it asks being away (not running, not
 * answering in time, the bus down) instead of failing: tried again with backoff (200 ms, doubling
 * to 5 s) for as long as it takes, with a log line when it starts waiting and every 30 s after.
 * Other failures (a refusal, a bad request) are answered at once. For work that has nothing to do
 * but wait, such as a job staging its inputs or saving its outputs while the catalog restarts.
 */
export class PatientCommands extends CommandSender {
  constructor(
    private readonly inner: CommandSender,
    private readonly logger: EventingLogger = silentLogger,
    private readonly pause: (ms: number) => Promise<void> = (ms) => sleep(ms),
  ) {
    super();
  }

  async send<K extends CommandName>(
    name: K,
    request: CommandRequest<K>,
  ): Promise<CommandResult<K>> {
    return untilAvailable(() => this.inner.send(name, request), {
      logger: this.logger,
      context: { command: name },
      sleep: this.pause,
      // One that timed out may have been carried out: sent again only if nobody received it, or
      // if it carries an idempotency key (a commit with its commitId).
      mayRepeat: (error) =>
        !NOT_IDEMPOTENT.has(name) ||
        hasIdempotencyKey(request) ||
        isProblem(error, CommonProblems.SERVICE_UNAVAILABLE),
    });
  }
}

/**
 * Runs `operation` until it does not fail for want of a dependency (a service away, the bus down or
 * not answering in time: `classifyFailure` says `unavailable`): tried again with backoff (200 ms,
 * doubling to 5 s) for as long as it takes, with a log line when the wait starts and every 30 s
 * after, and one when it is over. Any other failure, or one `mayRepeat` refuses, is thrown at once.
 * Only for an operation that is safe to repeat after a timeout, such as an append whose events'
 * ids are derived from their cause.
 */
export async function untilAvailable<T>(
  operation: () => Promise<T>,
  options: {
    readonly logger?: EventingLogger;
    /** Fields of every log line, e.g. the command or the job. */
    readonly context?: object;
    readonly sleep?: (ms: number) => Promise<void>;
    readonly mayRepeat?: (error: unknown) => boolean;
    /** The jitter of the delays (`retryDelay`); `() => 0` for exact ones. */
    readonly random?: () => number;
  } = {},
): Promise<T> {
  const logger = options.logger ?? silentLogger;
  const pause = options.sleep ?? ((ms: number) => sleep(ms));
  let failures = 0;
  let waitingSince: number | undefined;
  let loggedAt = 0;
  for (;;) {
    try {
      const result = await operation();
      if (waitingSince !== undefined) {
        logger.info(
          { ...options.context, waitedMs: Date.now() - waitingSince },
          'the service answered again',
        );
      }
      return result;
    } catch (error) {
      if (classifyFailure(error) !== 'unavailable') throw error;
      if (options.mayRepeat?.(error) === false) throw error;
      const now = Date.now();
      waitingSince ??= now;
      if (now - loggedAt >= WAITING_LOG_EVERY_MS) {
        loggedAt = now;
        logger.warn(
          { ...options.context, waitingMs: now - waitingSince, err: describeError(error) },
          'waiting for a service that is away',
        );
      }
      failures += 1;
      await pause(retryDelay(failures, DEFAULT_RETRY_DELAYS, options.random));
    }
  }
}
