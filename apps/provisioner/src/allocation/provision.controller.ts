import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { CommandSender, OnCommand } from '@acai/eventing';
import {
  AcaiError,
  DEFAULT_RESOURCES,
  ProvisioningProblems,
  type CommandPayload,
  type CommandResult,
  type StagedInput,
} from '@acai/contracts';
import {
  asRequestedChoice,
  catalogueRates,
  INSTANCE_TYPES,
  LOCAL_BOOT_SECONDS,
  localSlotName,
  localSlotPrice,
  offerKey,
  offerRef,
  planRescale,
  planRun,
  PRICE_SOURCE,
  type JobObservation,
  type Offer,
  type PlacementOutcome,
  type StepToPlan,
} from '@acai/provisioning';
import { AutoProvisioner } from '../autoprovision/auto-provisioner.js';
import { ProvisionerJobs } from './allocation.handler.js';
import { NodeRegistry } from '../nodes/node-registry.js';
import { ec2PoolName } from '../providers/ec2/index.js';
import { Providers } from '../providers/providers.js';

/** The provisioner's questions: plans, offers, nodes, and whether a run's steps can fit. */
@Controller()
export class ProvisionController {
  constructor(
    private readonly commands: CommandSender,
    private readonly auto: AutoProvisioner,
    private readonly providers: Providers,
    private readonly nodes: NodeRegistry,
    private readonly jobs: ProvisionerJobs,
  ) {}

  /**
   * Whether a running job should move, and where (`planRescale` in `@acai/provisioning`): its
   * measured rate scaled to every configuration of its provider with the memory it needs. A job
   * that is not running, or whose configuration is not known, stays, saying why.
   */
  @OnCommand('planRescale')
  async planRescale(
    @Payload() request: CommandPayload<'planRescale'>,
  ): Promise<CommandResult<'planRescale'>> {
    const { state } = await this.jobs.load(request.project, request.jobId);
    const ref = state.offer ?? null;
    if (state.status !== 'running' || ref === null || state.resources === null) {
      throw new AcaiError(
        ProvisioningProblems.NO_CONFIGURATION,
        `Job ${request.jobId} cannot be rescaled: it is ${state.status}${ref === null ? ', and the configuration it runs on is not known' : ''}`,
      );
    }
    const book = this.providers.book;
    const offers = book.offers([ref.provider]);
    // `job.provisioned` names it as requests do (`c5.large:spot`); a local slot placed as requested
    // may be a size no offer has, and is taken as it is.
    const current: Offer = offers.find((o) => offerKey(o) === ref.name) ?? {
      provider: ref.provider as Offer['provider'],
      name: ref.name,
      vCpu: ref.vCpu,
      memoryMb: ref.memoryMb,
      pricePerHour: ref.pricePerHour,
      speed: 1,
      bootSeconds: 0,
      spot: false,
      interruptionsPerHour: 0,
    };
    return planRescale({
      current,
      offers,
      memoryMb: (state.requested ?? state.resources).memoryMb,
      now: new Date(request.now),
      stepsLeft: request.stepsLeft,
      lostSteps: request.lostSteps,
      stepsPerSecond: request.stepsPerSecond,
      startupSeconds: request.startupSeconds,
      spent: request.spent,
      finishBy: request.finishBy === null ? null : new Date(request.finishBy),
      maxCost: request.maxCost,
      ...(request.spotLossSeconds === undefined
        ? {}
        : { spotLossSeconds: request.spotLossSeconds }),
      startWaitSeconds: this.auto.waits.marginSeconds(),
    });
  }

  @OnCommand('planProvisioning')
  async plan(
    @Payload() request: CommandPayload<'planProvisioning'>,
  ): Promise<CommandResult<'planProvisioning'>> {
    const step = request.step;
    const resources = { ...DEFAULT_RESOURCES, ...(step.resources ?? {}) };
    const provision = step.provision ?? {};
    // Another step's output does not exist before its run: a plan sizes the step on its file sets.
    const inputs = await this.resolveInputs(
      request.project,
      (step.inputs ?? []).flatMap((i) => ('fileset' in i ? [i] : [])),
    );
    const job = {
      command: step.command,
      env: step.env ?? {},
      inputs,
      resources,
      provision,
    };
    const outcome = await this.auto.place(job, request.project);
    switch (outcome.kind) {
      case 'chosen': {
        const d = outcome.choice.decision;
        return {
          action: 'run',
          success: d.success,
          configuration: offerRef(outcome.choice.offer),
          expectedSeconds: d.predictedSeconds,
          expectedCost: d.predictedCost,
          rule: d.rule,
          reason: d.reason,
          model: d.model,
          alternatives: [...d.alternatives],
          profiling: null,
          signature: d.signature === '' ? null : d.signature,
        };
      }
      case 'profile':
        return {
          action: 'profile',
          success: false,
          configuration: null,
          expectedSeconds: null,
          expectedCost: null,
          rule: 'profile-first',
          reason: `nothing is known of this job yet: it would first run short profiling runs (${Object.entries(
            provision.profile ?? {},
          )
            .map(([k, v]) => `${k}=${v.join('|')}`)
            .join(', ')}) on ${outcome.grid.map(offerKey).join(', ')}, then choose`,
          model: null,
          alternatives: [],
          profiling: { configurations: outcome.grid.map(offerRef) },
          signature: outcome.profile.signature,
        };
      case 'impossible':
        return {
          action: 'impossible',
          success: false,
          configuration: null,
          expectedSeconds: null,
          expectedCost: null,
          rule: outcome.decision.rule,
          reason: outcome.reason,
          model: outcome.decision.model,
          alternatives: outcome.decision.alternatives,
          profiling: null,
          signature: outcome.decision.signature,
        };
    }
  }

  /**
   * Plans steps of a run from `now` (`planRun` in `@acai/provisioning`): each step's share of the
   * deadline and what is left of the budget, the configuration chosen within it, its predicted time
   * and cost, and when the steps start and finish. What is read (each step's profile history, its
   * inputs' versions) is read once; the rest is pure.
   */
  @OnCommand('estimateRun')
  async estimateRun(
    @Payload() request: CommandPayload<'estimateRun'>,
  ): Promise<CommandResult<'estimateRun'>> {
    const steps: StepToPlan[] = [];
    // Each profile's history is read once, however many steps share it.
    const read = new Map<string, Promise<{ history: JobObservation[]; profiled: boolean }>>();
    for (const step of request.steps) {
      const place = await this.placerOf(request.project, step, read);
      const own = step.provision ?? {};
      steps.push({
        name: step.name,
        needs: step.needs,
        own: {
          ...(own.maxSeconds === undefined ? {} : { maxSeconds: own.maxSeconds }),
          ...(own.maxCost === undefined ? {} : { maxCost: own.maxCost }),
          ...(own.optimize === undefined ? {} : { optimize: own.optimize }),
        },
        place,
      });
    }
    return planRun({
      steps,
      now: new Date(request.now),
      deadline: request.deadline === null ? null : new Date(request.deadline),
      budget: request.budget,
    });
  }

  /**
   * How one step would be placed within any limits. A step with `provision` is the
   * auto-provisioner's; one without runs as it asked, where the allocation handler would put it.
   */
  private async placerOf(
    project: string,
    step: CommandPayload<'estimateRun'>['steps'][number],
    read: Map<string, Promise<{ history: JobObservation[]; profiled: boolean }>>,
  ): Promise<StepToPlan['place']> {
    if (step.provision === null) {
      const fixed: PlacementOutcome = { kind: 'chosen', choice: this.asRequested(step.resources) };
      return () => fixed;
    }
    const inputs = await this.resolveInputs(project, step.inputs);
    const provision = step.provision;
    const placer = await this.auto.placer(
      { command: step.command, env: step.env, inputs, resources: step.resources, provision },
      project,
      read,
    );
    return (limits) => placer({ ...provision, ...limits });
  }

  /** Where a step without `provision` runs: a local slot of its size, or the nearest offer. */
  private asRequested(resources: { cpu: number; memoryMb: number }) {
    const book = this.providers.book;
    const first = this.providers.default.name;
    if (first === 'local') {
      const vCpu = Math.min(resources.cpu, book.local.cpu);
      const memoryMb = Math.min(resources.memoryMb, book.local.memoryMb);
      const slot: Offer = {
        provider: 'local',
        name: localSlotName(vCpu, memoryMb),
        vCpu,
        memoryMb,
        pricePerHour: localSlotPrice(vCpu, memoryMb),
        speed: 1,
        bootSeconds: LOCAL_BOOT_SECONDS,
        spot: false,
        interruptionsPerHour: 0,
      };
      return asRequestedChoice(
        slot,
        `no provision: runs as requested in a local slot of ${vCpu} CPU / ${memoryMb} MiB; nothing predicts how long it takes (give it provision.profile to learn)`,
      );
    }
    const offer = book.nearest(resources, [first]);
    return asRequestedChoice(
      offer,
      `no provision: runs as requested on ${offerKey(offer)}, the cheapest ${first} configuration with ${resources.cpu} CPU and ${resources.memoryMb} MiB; nothing predicts how long it takes (give it provision.profile to learn)`,
    );
  }

  @OnCommand('listOffers')
  listOffers(): CommandResult<'listOffers'> {
    const book = this.providers.book;
    return {
      providers: [...book.providers],
      offers: book.offers().map((o: Offer) => ({
        ...offerRef(o),
        // The pool its nodes pull from: one for every local slot; one per type (and Spot) elsewhere.
        pool:
          o.provider === 'local' ? 'local' : ec2PoolName(offerKey(o).replace(':', '-'), o.provider),
        speed: o.speed,
        bootSeconds: o.bootSeconds,
        spot: o.spot,
        gpus: o.gpus ?? 0,
      })),
      catalogue: [...INSTANCE_TYPES],
      priceSource: PRICE_SOURCE,
      localRates: catalogueRates(),
    };
  }

  @OnCommand('listNodes')
  listNodes(@Payload() request: CommandPayload<'listNodes'>): CommandResult<'listNodes'> {
    return { items: [...this.nodes.list(request.project)] };
  }

  /** Refuses a run with a step no configuration can take, naming the step and why. */
  @OnCommand('checkResources')
  checkResources(
    @Payload() request: CommandPayload<'checkResources'>,
  ): CommandResult<'checkResources'> {
    const book = this.providers.book;
    const problems = request.steps.flatMap((step, i) => {
      if (step.offer !== undefined) {
        try {
          book.find(step.offer, step.providers);
          return [];
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          return [{ path: `steps.${i}.provision.offer`, message, step }];
        }
      }
      const why = step.auto
        ? book.whyNot({ cpu: 0.5, memoryMb: step.memoryMb }, step.providers)
        : book.whyNot({ cpu: step.cpu, memoryMb: step.memoryMb }, step.providers);
      return why === undefined ? [] : [{ path: `steps.${i}.resources`, message: why, step }];
    });
    const first = problems[0];
    if (first !== undefined) {
      throw new AcaiError(
        ProvisioningProblems.STEP_FITS_NOWHERE,
        `Run rejected: step '${first.step.name}' cannot run anywhere: ${first.message}`,
        problems.map(({ path, message }) => ({ path, message })),
      );
    }
    return { ok: true };
  }

  private async resolveInputs(
    project: string,
    inputs: readonly { fileset: string; version: number | string }[],
  ): Promise<Pick<StagedInput, 'fileset' | 'version' | 'manifestSha256'>[]> {
    const resolved: Pick<StagedInput, 'fileset' | 'version' | 'manifestSha256'>[] = [];
    for (const input of inputs) {
      const version = await this.commands.send('getVersion', {
        project,
        name: input.fileset,
        version: input.version,
      });
      resolved.push({
        fileset: input.fileset,
        version: version.version,
        manifestSha256: version.manifestSha256,
      });
    }
    return resolved;
  }
}
