import {
  CancelJobControlSchema,
  Controls,
  parseOrThrow,
  subjects,
  type CancelJobControl,
  type CommandName,
  type CommandRequest,
  type CommandResult,
  type WorkAssignment,
} from '@acai/contracts';
import type { Bus } from './bus.js';
import { decodeJson, encodeJson } from './codec.js';
import { describeError } from './errors.js';
import { silentLogger, type EventingLogger } from './logger.js';
import { publishWork } from './work-queue.js';

/**
 * The collaborators handlers get instead of the raw bus: each a small abstract class (a type and
 * an injection token at once), implemented on NATS here and in memory in @acai/eventing/testing, so a
 * handler's unit spec fakes all its I/O.
 */

/** Sends commands to the other services (`CommandClient` on the bus). */
export abstract class CommandSender {
  abstract send<K extends CommandName>(
    name: K,
    request: CommandRequest<K>,
  ): Promise<CommandResult<K>>;
}

/** Puts jobs on their pool's work queue. */
export abstract class WorkQueue {
  abstract publish(pool: string, work: WorkAssignment): Promise<void>;
}

/** Tells executors to stop a job, and hears such requests. */
export abstract class JobControl {
  /** Every executor running the job stops it (best effort: a cancelled job is also in the log). */
  abstract cancel(control: CancelJobControl): void;
  /** Calls `handler` with each cancel request; returns how to stop listening. */
  abstract onCancel(handler: (control: CancelJobControl) => void): { stop(): void };
}

/** The work queue on JetStream (`<prefix>.work.<pool>`). */
export class BusWorkQueue implements WorkQueue {
  constructor(private readonly bus: Bus) {}

  publish(pool: string, work: WorkAssignment): Promise<void> {
    return publishWork(this.bus, pool, work);
  }
}

/** Job control on core NATS (`<prefix>.ctl.job.cancel`, broadcast to every executor). */
export class BusJobControl implements JobControl {
  private readonly subject: string;

  constructor(
    private readonly bus: Bus,
    private readonly logger: EventingLogger = silentLogger,
  ) {
    this.subject = subjects.control(bus.topology, Controls.cancelJob);
  }

  cancel(control: CancelJobControl): void {
    this.bus.nc.publish(this.subject, encodeJson(control));
  }

  onCancel(handler: (control: CancelJobControl) => void): { stop(): void } {
    const subscription = this.bus.nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        try {
          handler(parseOrThrow(CancelJobControlSchema, decodeJson(msg.data), 'cancel control'));
        } catch (error) {
          this.logger.warn({ err: describeError(error) }, 'ignored an unreadable cancel control');
        }
      },
    });
    return { stop: () => subscription.unsubscribe() };
  }
}
