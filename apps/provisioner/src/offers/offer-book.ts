import type { Resources } from '@acai/contracts';
import { ec2Offers, localOffers, OfferCatalogue, type Offer } from '@acai/provisioning';
import type { ProviderName, ProvisionerConfig } from '../config.js';

const LOCAL_CPU_STEPS = [0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128];
const LOCAL_MEMORY_STEPS = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144];

/**
 * Every configuration the enabled providers offer, priced on one scale: slots of this machine
 * (priced at what the same vCPUs and memory cost in the EC2 catalogue), EC2 instance types, and
 * the simulated cloud's types. Built once from the configuration.
 */
export class OfferBook extends OfferCatalogue {
  declare readonly providers: readonly ProviderName[];
  readonly local: { readonly cpu: number; readonly memoryMb: number };

  constructor(config: ProvisionerConfig) {
    super(config.ACAI_PROVIDERS, offersOf(config));
    this.local = { cpu: config.ACAI_LOCAL_CPUS, memoryMb: config.ACAI_LOCAL_MEMORY_MB };
  }

  /**
   * Why no configuration can take these resources, or undefined when one can. A local job gets
   * exactly what it asks for (any fraction of a core), up to the machine; elsewhere the request
   * must fit an instance type.
   */
  whyNot(resources: Resources, providers: readonly string[] = this.providers): string | undefined {
    if (providers.includes('local') && this.providers.includes('local')) {
      if (resources.cpu <= this.local.cpu && resources.memoryMb <= this.local.memoryMb) return;
    }
    const fits = this.offers(providers).some(
      (o) => o.provider !== 'local' && o.vCpu >= resources.cpu && o.memoryMb >= resources.memoryMb,
    );
    if (fits) return;
    const largest = this.largest(providers);
    return `it asks for ${resources.cpu} CPU and ${resources.memoryMb} MiB, more than any configuration offers (the largest: ${largest}); ask for less, or enable a provider with bigger machines (ACAI_PROVIDERS)`;
  }

  private largest(providers: readonly string[]): string {
    const parts: string[] = [];
    if (providers.includes('local') && this.providers.includes('local'))
      parts.push(`this machine, ${this.local.cpu} CPU / ${this.local.memoryMb} MiB`);
    const cloud = this.offers(providers).filter((o) => o.provider !== 'local');
    const maxCpu = cloud.reduce<Offer | undefined>(
      (best, o) => (best === undefined || o.vCpu > best.vCpu ? o : best),
      undefined,
    );
    const maxMemory = cloud.reduce<Offer | undefined>(
      (best, o) => (best === undefined || o.memoryMb > best.memoryMb ? o : best),
      undefined,
    );
    if (maxCpu !== undefined) parts.push(`${maxCpu.name} with ${maxCpu.vCpu} vCPU`);
    if (maxMemory !== undefined && maxMemory !== maxCpu)
      parts.push(`${maxMemory.name} with ${maxMemory.memoryMb} MiB`);
    return parts.length === 0 ? 'none: no provider is enabled' : parts.join('; ');
  }
}

/** Every configuration the enabled providers offer, in their order. */
function offersOf(config: ProvisionerConfig): Offer[] {
  const offers: Offer[] = [];
  for (const provider of config.ACAI_PROVIDERS) {
    switch (provider) {
      case 'local': {
        const cpus = (
          config.ACAI_LOCAL_CPU_SIZES ?? defaultSteps(LOCAL_CPU_STEPS, config.ACAI_LOCAL_CPUS)
        ).filter((c) => c <= config.ACAI_LOCAL_CPUS);
        const memoryMb = (
          config.ACAI_LOCAL_MEMORY_SIZES_MB ??
          defaultSteps(LOCAL_MEMORY_STEPS, config.ACAI_LOCAL_MEMORY_MB)
        )
          .map((m) => Math.round(m))
          .filter((m) => m <= config.ACAI_LOCAL_MEMORY_MB);
        // A local slot is ready at once (its executor is running); a job's measured time already
        // holds its spawn and staging, so no boot time is added on top.
        offers.push(...localOffers({ cpus, memoryMb, bootSeconds: 0 }));
        break;
      }
      case 'ec2':
        offers.push(...ec2Offers());
        break;
      case 'simulated': {
        // The catalogue's types, on-demand and Spot, with the simulation's boot time and
        // interruption rate when configured.
        const simulated = {
          provider: 'simulated' as const,
          ...(config.ACAI_SIM_BOOT_SECONDS === undefined
            ? {}
            : { bootSeconds: config.ACAI_SIM_BOOT_SECONDS }),
        };
        offers.push(
          ...ec2Offers(simulated),
          ...ec2Offers({
            ...simulated,
            spot: true,
            ...(config.ACAI_SIM_SPOT_INTERRUPTIONS_PER_HOUR === undefined
              ? {}
              : { interruptionsPerHour: config.ACAI_SIM_SPOT_INTERRUPTIONS_PER_HOUR }),
          }),
        );
        break;
      }
    }
  }
  return offers;
}

function defaultSteps(steps: readonly number[], max: number): number[] {
  const within = steps.filter((s) => s <= max);
  return within.includes(max) ? within : [...within, max];
}
