import type { Offer } from '@acai/provisioning';
import type { NodeView, Provider } from '../provider.js';

/**
 * Executors on this machine, all pulling from pool `local`. Every slot takes a job of any size:
 * the executor confines each job to the CPU and memory it was given (cgroups), so one pool
 * serves every local configuration. Nothing to launch; nodes show up by their heartbeats.
 */
export class LocalProvider implements Provider {
  readonly name = 'local' as const;

  async place(_offer: Offer, _jobId: string): Promise<{ pool: string }> {
    return { pool: 'local' };
  }

  started(): void {}

  released(): void {}

  nodes(): readonly NodeView[] {
    return [];
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}
