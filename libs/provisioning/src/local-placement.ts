import type { EventData, Resources } from '@acai/contracts';
import type { ResourceRates } from './instance-types.js';
import { localSlotName, localSlotPrice } from './offers.js';

/**
 * A job without `provision` on the local provider: executors on this machine, pulling from the
 * `local` pool. The job gets what it asked for, capped at what the machine has, and the decision
 * says so; its slot is priced as a local offer of that size would be. What `job.provisioned`
 * records: there is no auto-provisioner's decision.
 */
export function placeLocally(
  requested: Resources,
  capacity: Resources,
  rates?: ResourceRates,
): EventData<'job.provisioned'> {
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
    offer: {
      provider: 'local',
      name: localSlotName(cpu, memoryMb),
      vCpu: cpu,
      memoryMb,
      pricePerHour: localSlotPrice(cpu, memoryMb, rates),
    },
    decision: null,
  };
}
