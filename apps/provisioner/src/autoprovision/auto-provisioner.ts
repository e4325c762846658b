import type { ProvisionSpec } from '@acai/contracts';
import {
  decidePlacement,
  jobProfile,
  type JobObservation,
  type JobToPlace,
  type OfferCatalogue,
  type PlacementOutcome,
  PlacementWaits,
} from '@acai/provisioning';

/**
 * The auto-provisioner's I/O: reads what its decision needs (the profile's finished jobs, whether
 * the profile was profiled in the project) and asks `decidePlacement` (`@acai/provisioning`),
 * which fits the runtime model and chooses. Shared by the placement of queued jobs and by
 * `provisioner.plan`, so both decide on the same facts.
 */
export class AutoProvisioner {
  constructor(
    private readonly book: OfferCatalogue,
    /** A project's finished jobs of a profile: one project never learns from another's. */
    private readonly observations: (
      project: string,
      signature: string,
    ) => Promise<JobObservation[]>,
    private readonly profilingRuns: number,
    /** Whether a project's profile has been profiled (per project: see `PlacementFacts`). */
    private readonly profiled: (project: string, signature: string) => Promise<boolean>,
    /**
     * The waits from queued to started measured per provider, beyond the boot: the copy in memory
     * of the `placement-waits` projection (empty, for a test, when not given).
     */
    readonly waits: PlacementWaits = new PlacementWaits(),
  ) {}

  /** What to do with a job of `project`: run it somewhere, profile its profile first, or nothing. */
  async place(job: JobToPlace, project: string): Promise<PlacementOutcome> {
    const known = {
      job,
      catalogue: this.book,
      profilingRuns: this.profilingRuns,
      startWaitSeconds: this.waits.marginSeconds(),
    };
    // A pinned configuration is decided without history: nothing is read for it.
    if (job.provision.offer !== undefined) {
      return decidePlacement({ ...known, history: [], profiled: false });
    }
    const { signature } = jobProfile(job);
    const history = await this.observations(project, signature);
    // Only a step that says how to profile it can be profiled: for any other, no need to ask.
    const profiled =
      job.provision.profile !== undefined && (await this.profiled(project, signature));
    return decidePlacement({ ...known, history, profiled });
  }

  /**
   * Reads once what placing `job` needs, and answers a pure decision of it for any `provision`
   * (the run planner tries a step within several limits: see `planRun`).
   */
  async placer(
    job: JobToPlace,
    project: string,
    /** What was read already for a profile in this plan (many steps of a run share one). */
    read: Map<string, Promise<{ history: JobObservation[]; profiled: boolean }>> = new Map(),
  ): Promise<(provision: ProvisionSpec) => PlacementOutcome> {
    const known = {
      catalogue: this.book,
      profilingRuns: this.profilingRuns,
      startWaitSeconds: this.waits.marginSeconds(),
    };
    if (job.provision.offer !== undefined) {
      return (provision) =>
        decidePlacement({ ...known, job: { ...job, provision }, history: [], profiled: false });
    }
    const { signature } = jobProfile(job);
    const key = `${signature}:${job.provision.profile === undefined ? '' : 'profile'}`;
    let facts = read.get(key);
    if (facts === undefined) {
      facts = (async () => ({
        history: await this.observations(project, signature),
        profiled: job.provision.profile !== undefined && (await this.profiled(project, signature)),
      }))();
      read.set(key, facts);
    }
    const { history, profiled } = await facts;
    return (provision) =>
      decidePlacement({ ...known, job: { ...job, provision }, history, profiled });
  }
}
