import {
  CancelJobControlSchema,
  RescaleJobControlSchema,
  NodeHeartbeatSchema,
  Controls,
  parseOrThrow,
  subjects,
  type CancelJobControl,
  type RescaleJobControl,
  type NodeHeartbeat,
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
  /**
   * The executor running this attempt asks it to checkpoint, stops it and records it rescaled
   * (best effort: the request is also in the log, and the scheduler sends it again).
   */
  abstract rescale(control: RescaleJobControl): void;
  /** Calls `handler` with each rescale request; returns how to stop listening. */
  abstract onRescale(handler: (control: RescaleJobControl) => void): { stop(): void };
}

/** Hears the heartbeats executors send every few seconds (each lists the jobs it runs). */
export abstract class NodeHeartbeats {
  /** Calls `handler` with each heartbeat heard from now on; returns how to stop listening. */
  abstract onHeartbeat(handler: (heartbeat: NodeHeartbeat) => void): { stop(): void };
}

/** The work queue on JetStream (`<prefix>.work.<pool>`). */
export class BusWorkQueue implements WorkQueue {
  constructor(private readonly bus: Bus) {}

  publish(pool: string, work: WorkAssignment): Promise<void> {
    return publishWork(this.bus, pool, work);
  }
}

/** Job control on core NATS (`<prefix>.ctl.job.cancel`, `.job.rescale`, broadcast to every executor). */
export class BusJobControl implements JobControl {
  private readonly cancelSubject: string;
  private readonly rescaleSubject: string;

  constructor(
    private readonly bus: Bus,
    private readonly logger: EventingLogger = silentLogger,
  ) {
    this.cancelSubject = subjects.control(bus.topology, Controls.cancelJob);
    this.rescaleSubject = subjects.control(bus.topology, Controls.rescaleJob);
  }

  cancel(control: CancelJobControl): void {
    this.bus.nc.publish(this.cancelSubject, encodeJson(control));
  }

  onCancel(handler: (control: CancelJobControl) => void): { stop(): void } {
    return listenControl(
      this.bus,
      this.logger,
      this.cancelSubject,
      (value) => parseOrThrow(CancelJobControlSchema, value, 'cancel control'),
      'cancel control',
      handler,
    );
  }

  rescale(control: RescaleJobControl): void {
    this.bus.nc.publish(this.rescaleSubject, encodeJson(control));
  }

  onRescale(handler: (control: RescaleJobControl) => void): { stop(): void } {
    return listenControl(
      this.bus,
      this.logger,
      this.rescaleSubject,
      (value) => parseOrThrow(RescaleJobControlSchema, value, 'rescale control'),
      'rescale control',
      handler,
    );
  }
}

/** Heartbeats on core NATS (`<prefix>.ctl.node.heartbeat`): every listener hears every one. */
export class BusNodeHeartbeats implements NodeHeartbeats {
  constructor(
    private readonly bus: Bus,
    private readonly logger: EventingLogger = silentLogger,
  ) {}

  onHeartbeat(handler: (heartbeat: NodeHeartbeat) => void): { stop(): void } {
    return listenControl(
      this.bus,
      this.logger,
      subjects.control(this.bus.topology, Controls.nodeHeartbeat),
      (value) => parseOrThrow(NodeHeartbeatSchema, value, 'node heartbeat'),
      'node heartbeat',
      handler,
    );
  }
}

/** Subscribes to a core NATS control subject, handing each readable message on (others are logged). */
function listenControl<T>(
  bus: Bus,
  logger: EventingLogger,
  subject: string,
  parse: (value: unknown) => T,
  what: string,
  handler: (control: T) => void,
): { stop(): void } {
  const subscription = bus.nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      try {
        handler(parse(decodeJson(msg.data)));
      } catch (error) {
        logger.warn({ err: describeError(error) }, `ignored an unreadable ${what}`);
      }
    },
  });
  return { stop: () => subscription.unsubscribe() };
}
