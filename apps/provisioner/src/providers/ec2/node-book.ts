/**
 * The fleet's bookkeeping: every instance it knows, what it holds (a job reserved or running) and
 * the questions the other parts ask of it (which instance holds a job, which is free in a pool).
 * In memory only: after a restart `sync` rebuilds it from EC2's tags. Pure: no I/O, no clock.
 */

import type { Ec2Instance } from './ec2.repository.js';

/**
 * What the fleet can do with an instance:
 * - `pending`: booting, reserved for a job;
 * - `running`: booted, reserved for a job its executor has not started yet;
 * - `busy`: running a job;
 * - `idle`: no job (booted or not); terminated once idle for longer than `idleTimeoutMs`;
 * - `terminating`: TerminateInstances was accepted.
 */
export type NodeState = 'pending' | 'running' | 'idle' | 'busy' | 'terminating';

/** One instance of the fleet, for ops endpoints and tests. */
export interface NodeView {
  readonly id: string;
  readonly provider: 'ec2';
  readonly instanceType: string;
  readonly pool: string;
  readonly state: NodeState;
  /** The job reserved for or running on it. */
  readonly jobId: string | null;
  readonly launchedAt: Date;
  readonly idleSince: Date | null;
}

/** An instance as the fleet tracks it; its parts change these fields in place. */
export interface Ec2Node {
  readonly id: string;
  readonly instanceType: string;
  readonly pool: string;
  readonly launchedAt: Date;
  /** EC2 reports it running (or its executor started a job). */
  booted: boolean;
  jobId: string | null;
  /** The job's executor reported it started. */
  started: boolean;
  idleSince: Date | null;
  terminating: boolean;
}

/** A node for an instance just launched or just adopted: no job, idle since `idleSince`. */
export function newNode(
  instance: Ec2Instance,
  pool: string,
  now: Date,
  idleSince: Date | null,
): Ec2Node {
  return {
    id: instance.id,
    instanceType: instance.instanceType,
    pool,
    launchedAt: instance.launchedAt ?? now,
    booted: instance.state === 'running',
    jobId: null,
    started: false,
    idleSince,
    terminating: false,
  };
}

export function stateOf(node: Ec2Node): NodeState {
  if (node.terminating) return 'terminating';
  if (node.jobId === null) return 'idle';
  if (node.started) return 'busy';
  return node.booted ? 'running' : 'pending';
}

export class NodeBook {
  private readonly nodes = new Map<string, Ec2Node>();

  get(id: string): Ec2Node | undefined {
    return this.nodes.get(id);
  }

  put(node: Ec2Node): void {
    this.nodes.set(node.id, node);
  }

  delete(id: string): void {
    this.nodes.delete(id);
  }

  /** Every node, terminating ones included; a copy, so callers may delete while iterating. */
  all(): Ec2Node[] {
    return [...this.nodes.values()];
  }

  /** Nodes not terminating: those that count against `maxInstances`. */
  active(): Ec2Node[] {
    return this.all().filter((node) => !node.terminating);
  }

  /** The node reserved for or running `jobId`, unless it is being terminated. */
  reservationOf(jobId: string): Ec2Node | undefined {
    for (const node of this.nodes.values()) {
      if (node.jobId === jobId && !node.terminating) return node;
    }
    return undefined;
  }

  /** A free node of `pool`: booted before booting, most recently idle first. */
  freeInPool(pool: string): Ec2Node | undefined {
    const free = this.all().filter(
      (node) => node.pool === pool && node.jobId === null && !node.terminating,
    );
    // Reusing the most recently idle keeps a warm few and lets the surplus reach its timeout.
    free.sort(
      (a, b) =>
        Number(b.booted) - Number(a.booted) ||
        (b.idleSince?.getTime() ?? 0) - (a.idleSince?.getTime() ?? 0),
    );
    return free[0];
  }

  /** Every node, oldest first. */
  views(): NodeView[] {
    return this.all()
      .sort((a, b) => a.launchedAt.getTime() - b.launchedAt.getTime() || a.id.localeCompare(b.id))
      .map((node) => ({
        id: node.id,
        provider: 'ec2' as const,
        instanceType: node.instanceType,
        pool: node.pool,
        state: stateOf(node),
        jobId: node.jobId,
        launchedAt: node.launchedAt,
        idleSince: node.idleSince,
      }));
  }
}
