import type { Resources } from '@acai/contracts';

export interface Placement {
  readonly provider: string;
  readonly pool: string;
  readonly resources: Resources;
  readonly reason: string;
}

/**
 * The local provider: executors on this machine, pulling from the `local` pool. A job's request is
 * capped at what the machine has, and the decision says so. Pure.
 */
export function placeLocally(requested: Resources, capacity: Resources): Placement {
  const cpu = Math.min(requested.cpu, capacity.cpu);
  const memoryMb = Math.min(requested.memoryMb, capacity.memoryMb);
  const capped = cpu !== requested.cpu || memoryMb !== requested.memoryMb;
  return {
    provider: 'local',
    pool: 'local',
    resources: { cpu, memoryMb },
    reason: capped
      ? `local slot: asked for ${requested.cpu} CPU / ${requested.memoryMb} MiB, capped at this machine's ${capacity.cpu} CPU / ${capacity.memoryMb} MiB`
      : `local slot: ${cpu} CPU / ${memoryMb} MiB of this machine's ${capacity.cpu} CPU / ${capacity.memoryMb} MiB`,
  };
}
