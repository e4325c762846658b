import { AcaiError, ProvisioningProblems, type Resources } from '@acai/contracts';
import { offerKey, type Offer, type Provider } from './offers.js';

/**
 * The configurations offered here, by the enabled providers in their order: what placement looks
 * offers up in. A value: the provisioner builds it once from its configuration (`OfferBook`).
 */
export class OfferCatalogue {
  constructor(
    /** The enabled providers, the first being where a job without `provision` runs. */
    readonly providers: readonly Provider[],
    private readonly all: readonly Offer[],
  ) {}

  /** Every offer, or those of the given providers. */
  offers(providers?: readonly string[]): readonly Offer[] {
    return providers === undefined
      ? this.all
      : this.all.filter((o) => providers.includes(o.provider));
  }

  /**
   * An offer by name (`c5.large`, `local-1cpu-2048mb`, `c5.large:spot`), or a clear error.
   * @throws AcaiError `OFFER_UNKNOWN` when none of the given providers offers it.
   */
  find(name: string, providers?: readonly string[]): Offer {
    const candidates = this.offers(providers);
    const offer =
      candidates.find((o) => offerKey(o) === name) ?? candidates.find((o) => o.name === name);
    if (offer === undefined) {
      throw new AcaiError(
        ProvisioningProblems.OFFER_UNKNOWN,
        `No configuration named '${name}' is offered here (providers: ${this.providers.join(', ')}); GET /api/v1/instance-types lists them`,
        [{ path: 'provision.offer', message: 'unknown configuration' }],
      );
    }
    return offer;
  }

  /**
   * The cheapest configuration of the providers with at least the requested CPU and memory (ties
   * by name): what a job runs on as it asked.
   * @throws AcaiError `NO_CONFIGURATION` when none is that big.
   */
  nearest(resources: Resources, providers: readonly string[]): Offer {
    const fitting = this.offers(providers)
      .filter((o) => o.vCpu >= resources.cpu && o.memoryMb >= resources.memoryMb)
      .sort((a, b) => a.pricePerHour - b.pricePerHour || (a.name < b.name ? -1 : 1));
    const offer = fitting[0];
    if (offer === undefined) {
      throw new AcaiError(
        ProvisioningProblems.NO_CONFIGURATION,
        `No configuration has ${resources.cpu} CPU and ${resources.memoryMb} MiB (providers: ${providers.join(', ')}): ask for fewer CPUs or less memory, or run it on a provider with bigger configurations`,
      );
    }
    return offer;
  }
}
