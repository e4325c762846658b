/**
 * A fleet instance as `GET /api/v1/nodes` shows it. Lives with the fleet, not with the `Provider`
 * interface, because only fleet-backed providers (ec2 and simulated) have fleet instances. Pure.
 */

import type { NodeView as ApiNodeView } from '@acai/contracts';
import type { Offer } from '@acai/provisioning';
import type { NodeView } from './node-book.js';

/** A fleet instance as a node: its state in the node list's words, its size and price from its offer. */
export function fleetNodeView(
  n: NodeView,
  provider: 'ec2' | 'simulated',
  offer: Offer | undefined,
  limits: string | null,
): ApiNodeView {
  return {
    id: n.id,
    provider,
    instanceType: offer?.name ?? n.instanceType,
    pool: n.pool,
    state:
      n.state === 'pending'
        ? 'booting'
        : n.state === 'running' || n.state === 'busy'
          ? 'busy'
          : n.state,
    cpu: offer?.vCpu ?? null,
    memoryMb: offer?.memoryMb ?? null,
    slots: 1,
    jobs: n.jobId === null ? [] : [n.jobId],
    pricePerHour: offer?.pricePerHour ?? null,
    launchedAt: n.launchedAt.toISOString(),
    lastSeenAt: null,
    limits,
  };
}
