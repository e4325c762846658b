import { z } from 'zod';
import { OfferRefSchema, ProvisionDecisionSchema } from '../events/job.events.js';

/** What the auto-provisioner would do with a step (`POST /api/v1/provision/plan`). */
export const ProvisionPlanViewSchema = z.object({
  /** `run`: it would run now on `configuration`; `profile`: it would first run `profiling`; `impossible`. */
  action: z.enum(['run', 'profile', 'impossible']),
  success: z.boolean(),
  configuration: OfferRefSchema.nullable(),
  expectedSeconds: z.number().nonnegative().nullable(),
  expectedCost: z.number().nonnegative().nullable(),
  rule: z.string(),
  reason: z.string(),
  model: ProvisionDecisionSchema.shape.model,
  alternatives: ProvisionDecisionSchema.shape.alternatives,
  profiling: z.object({ configurations: z.array(OfferRefSchema) }).nullable(),
  signature: z.string().nullable(),
});
export type ProvisionPlanView = z.infer<typeof ProvisionPlanViewSchema>;

/** One EC2 instance type of the catalogue, with its list prices. */
export const InstanceTypeSchema = z.object({
  name: z.string(),
  family: z.string(),
  vCpu: z.number().positive(),
  memoryMb: z.number().int().positive(),
  pricePerHour: z.number().nonnegative(),
  spotPricePerHour: z.number().nonnegative(),
  burstBaseline: z.number().positive().optional(),
  gpus: z.number().int().nonnegative().optional(),
});

/** Every configuration the enabled providers offer, priced (`GET /api/v1/instance-types`). */
export const OffersViewSchema = z.object({
  providers: z.array(z.string()),
  offers: z.array(
    OfferRefSchema.extend({
      /** The work pool its nodes pull from. */
      pool: z.string(),
      /** Per-vCPU speed against a c5 vCPU (1); a burstable type's baseline. */
      speed: z.number().positive(),
      bootSeconds: z.number().nonnegative(),
      spot: z.boolean(),
      gpus: z.number().int().nonnegative(),
    }),
  ),
  catalogue: z.array(InstanceTypeSchema),
  priceSource: z.string(),
  localRates: z.object({ perVcpuHour: z.number(), perGibHour: z.number() }),
});
export type OffersView = z.infer<typeof OffersViewSchema>;

/** A machine (or slot holder) that runs executors (`GET /api/v1/nodes`). */
export const NodeViewSchema = z.object({
  id: z.string(),
  provider: z.string(),
  instanceType: z.string().nullable(),
  pool: z.string(),
  /** `booting` until its executor says hello; then `idle` or `busy`; `terminating` at the end. */
  state: z.enum(['booting', 'idle', 'busy', 'terminating']),
  cpu: z.number().nullable(),
  memoryMb: z.number().nullable(),
  slots: z.number().int().nullable(),
  jobs: z.array(z.string()),
  pricePerHour: z.number().nullable(),
  launchedAt: z.string().nullable(),
  lastSeenAt: z.string().nullable(),
  /** How its executor enforces limits (cgroup-v2, cgroup-v1, none), once it has said. */
  limits: z.string().nullable(),
});
export type NodeView = z.infer<typeof NodeViewSchema>;
