import type { NodeHeartbeat } from '@acai/contracts';
import type { NodeHeartbeats } from '@acai/eventing';

/**
 * Providers whose pools have a fixed size that their nodes' heartbeats tell: executors started by
 * hand (or by the launcher) on machines that are there. The others (`ec2`, `simulated`) launch a
 * node for each job they place, so their pools grow with their waiting jobs: holding those jobs
 * until a heartbeat says a node is up would only slow them down (by a heartbeat interval, virtual
 * hours in a simulation).
 */
export const GATED_PROVIDERS: ReadonlySet<string> = new Set(['local']);

/** A node that has not sent a heartbeat for this long no longer counts (as the node registry's). */
export const NODE_FORGOTTEN_AFTER_MS = 30_000;

/**
 * After it starts, the dispatcher holds the jobs of a gated provider's pool it has heard no node of
 * for this long (two of the executors' default heartbeat intervals): its nodes have not spoken
 * yet. Past it, a pool nobody reports on is not gated, so its jobs never wait for nothing.
 */
export const START_GRACE_MS = 10_000;

interface Node {
  readonly pool: string;
  readonly slots: number;
  readonly heardAt: number;
}

/**
 * The slots of each pool, from the node heartbeats this process hears (every replica hears them
 * all). A pool's capacity is the sum of the slots of its nodes heard in the last
 * {@link NODE_FORGOTTEN_AFTER_MS}; only nodes of a {@link GATED_PROVIDERS} provider count.
 */
export class PoolCapacity {
  private readonly nodes = new Map<string, Node>();
  private listening: { stop(): void } | undefined;
  private startedAt = 0;

  constructor(
    private readonly heartbeats: NodeHeartbeats,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Starts listening; `changed` is called when a pool's capacity may have changed. */
  start(changed: () => void): void {
    this.startedAt = this.clock();
    this.listening = this.heartbeats.onHeartbeat((h) => {
      if (this.heard(h)) changed();
    });
  }

  stop(): void {
    this.listening?.stop();
  }

  /** Records a heartbeat; answers whether it changed a pool's slots (a new node, a resize). */
  heard(heartbeat: NodeHeartbeat): boolean {
    if (!GATED_PROVIDERS.has(heartbeat.provider)) return false;
    const before = this.nodes.get(heartbeat.id);
    this.nodes.set(heartbeat.id, {
      pool: heartbeat.pool,
      slots: heartbeat.slots,
      heardAt: this.clock(),
    });
    return (
      before === undefined || before.slots !== heartbeat.slots || before.pool !== heartbeat.pool
    );
  }

  /**
   * The slots of every pool with a live node, and of the gated providers' pools that must wait for
   * their first heartbeat (0, during the start-up grace; `pending` names them): the gated pools.
   */
  capacities(pending: ReadonlyMap<string, string>): Map<string, number> {
    const now = this.clock();
    const slots = new Map<string, number>();
    for (const [id, node] of this.nodes) {
      if (now - node.heardAt > NODE_FORGOTTEN_AFTER_MS) {
        this.nodes.delete(id);
        continue;
      }
      slots.set(node.pool, (slots.get(node.pool) ?? 0) + node.slots);
    }
    if (now - this.startedAt < START_GRACE_MS) {
      for (const [pool, provider] of pending) {
        if (GATED_PROVIDERS.has(provider) && !slots.has(pool)) slots.set(pool, 0);
      }
    }
    return slots;
  }
}
