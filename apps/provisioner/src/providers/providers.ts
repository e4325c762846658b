import { AcaiError, ProvisioningProblems } from '@acai/contracts';
import type { OfferBook } from '../offers/offer-book.js';
import type { NodeView, Provider } from './provider.js';

/** The enabled providers, by name; the first is where jobs without `provision` run. */
export class Providers {
  private readonly byName: ReadonlyMap<string, Provider>;

  constructor(
    readonly book: OfferBook,
    private readonly list: readonly Provider[],
  ) {
    if (list.length === 0) throw new Error('at least one provider must be enabled');
    this.byName = new Map(list.map((p) => [p.name, p]));
  }

  get default(): Provider {
    return this.list[0]!;
  }

  get(name: string): Provider {
    const provider = this.byName.get(name);
    if (provider === undefined) {
      throw new AcaiError(
        ProvisioningProblems.PROVIDER_NOT_ENABLED,
        `provider '${name}' is not enabled here (ACAI_PROVIDERS: ${[...this.byName.keys()].join(', ')}): choose one of these, or ask an operator to add it to ACAI_PROVIDERS`,
      );
    }
    return provider;
  }

  started(jobId: string, executor: string): void {
    for (const provider of this.list) provider.started(jobId, executor);
  }

  released(jobId: string): void {
    for (const provider of this.list) provider.released(jobId);
  }

  nodes(): NodeView[] {
    return this.list.flatMap((p) => p.nodes());
  }

  all(): readonly Provider[] {
    return this.list;
  }

  async start(): Promise<void> {
    for (const provider of this.list) await provider.start();
  }

  async stop(): Promise<void> {
    for (const provider of [...this.list].reverse()) await provider.stop();
  }
}
