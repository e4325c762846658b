import { Controls, NodeHeartbeatSchema, subjects, type NodeHeartbeat } from '@acai/contracts';
import {
  decodeJson,
  describeError,
  silentLogger,
  type Bus,
  type EventingLogger,
} from '@acai/eventing';

/** Hears the heartbeats executors send every few seconds (each lists the jobs it runs). */
export abstract class NodeHeartbeats {
  /** Calls `handler` with each heartbeat heard from now on; returns how to stop listening. */
  abstract onHeartbeat(handler: (heartbeat: NodeHeartbeat) => void): { stop(): void };
}

/** Heartbeats on core NATS (`<prefix>.ctl.node.heartbeat`): every replica hears every one. */
export class BusNodeHeartbeats implements NodeHeartbeats {
  constructor(
    private readonly bus: Bus,
    private readonly logger: EventingLogger = silentLogger,
  ) {}

  onHeartbeat(handler: (heartbeat: NodeHeartbeat) => void): { stop(): void } {
    const subscription = this.bus.nc.subscribe(
      subjects.control(this.bus.topology, Controls.nodeHeartbeat),
      {
        callback: (err, msg) => {
          if (err !== null) return;
          let parsed;
          try {
            parsed = NodeHeartbeatSchema.safeParse(decodeJson(msg.data));
          } catch (error) {
            this.logger.debug({ err: describeError(error) }, 'ignored an unreadable heartbeat');
            return;
          }
          if (parsed.success) handler(parsed.data);
          else this.logger.debug({ err: parsed.error.message }, 'ignored a malformed heartbeat');
        },
      },
    );
    return { stop: () => subscription.unsubscribe() };
  }
}
