import { Controls, NodeHeartbeatSchema, subjects, type NodeHeartbeat } from '@acai/contracts';
import { decodeJson, type Bus } from '@acai/eventing';
import type { Subscription } from '@nats-io/nats-core';
import type { NodeView, Provider } from '../providers/provider.js';

/** A node not heard from for this many heartbeat periods is gone from the list. */
const FORGET_AFTER_MS = 30_000;

/**
 * The nodes that run executors: what each executor's heartbeat says (it is alive, its pool, size
 * and jobs), merged with what providers launched that has not said hello yet. Liveness is not
 * history, so this is memory, not events: it is whole again a heartbeat period after a restart.
 */
export class NodeRegistry {
  private readonly seen = new Map<string, { heartbeat: NodeHeartbeat; at: number }>();
  private subscription: Subscription | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly providers: readonly Provider[],
    private readonly prices: (heartbeat: NodeHeartbeat) => number | null,
    private readonly clock: () => number = Date.now,
  ) {}

  start(): void {
    this.subscription = this.bus.nc.subscribe(
      subjects.control(this.bus.topology, Controls.nodeHeartbeat),
      {
        callback: (err, msg) => {
          if (err !== null) return;
          const parsed = NodeHeartbeatSchema.safeParse(decodeJson(msg.data));
          if (parsed.success) this.heard(parsed.data);
        },
      },
    );
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }

  heard(heartbeat: NodeHeartbeat): void {
    this.seen.set(heartbeat.id, { heartbeat, at: this.clock() });
  }

  /**
   * Every live node, those that reported first, then those still booting. With `project`, a node
   * lists only that project's jobs (a job whose project its executor did not say is not listed):
   * one project does not see what another runs.
   */
  list(project?: string): NodeView[] {
    const now = this.clock();
    const live: NodeView[] = [];
    for (const [id, { heartbeat, at }] of this.seen) {
      if (now - at > FORGET_AFTER_MS) {
        this.seen.delete(id);
        continue;
      }
      live.push({
        id,
        provider: heartbeat.provider,
        instanceType: heartbeat.instanceType,
        pool: heartbeat.pool,
        state: heartbeat.busy > 0 ? 'busy' : 'idle',
        cpu: heartbeat.cpu,
        memoryMb: heartbeat.memoryMb,
        slots: heartbeat.slots,
        jobs:
          project === undefined
            ? heartbeat.jobs
            : heartbeat.jobs.filter((jobId) => heartbeat.projects[jobId] === project),
        pricePerHour: this.prices(heartbeat),
        launchedAt: heartbeat.startedAt,
        lastSeenAt: new Date(at).toISOString(),
        limits: heartbeat.limits,
      });
    }
    const reported = new Set(live.map((n) => n.id));
    const launched = this.providers
      .flatMap((p) => p.nodes())
      .filter((n) => !reported.has(n.id))
      // A node still booting runs nothing a project could own; a provider's view of its jobs
      // does not say whose they are, so a project sees none of them.
      .map((n) => (project === undefined ? n : { ...n, jobs: [] }));
    return [...live.sort((a, b) => (a.id < b.id ? -1 : 1)), ...launched];
  }
}
