import { z } from 'zod';
import {
  MaterializationDecisionSchema,
  SetStorageBudgetSchema,
  StorageBudgetViewSchema,
} from './api/materialization.js';
import { ReuseSharingViewSchema, SetReuseSharingSchema } from './api/reuse-sharing.js';
import { RunSpecSchema, StepSpecSchema } from './api/run-spec.js';
import { SecretNameSchema } from './api/secrets.js';
import { RunPlanViewSchema, RunPlanWithReuseSchema, StepToEstimateSchema } from './api/run-plan.js';
import {
  EvictedVersionSchema,
  FileEntrySchema,
  FilesetHitSchema,
  FilesetViewSchema,
  ResolvedFileSchema,
  SetQuotaRequestSchema,
  StorageViewSchema,
  VersionDiffSchema,
  VersionHitSchema,
  VersionViewSchema,
} from './api/catalog.views.js';
import {
  FilePathSchema,
  FilesetNameSchema,
  LabelsSchema,
  MediaTypeSchema,
  Sha256Schema,
  VersionRefSchema,
} from './api/names.js';
import {
  NodeViewSchema,
  OffersViewSchema,
  ProvisionPlanViewSchema,
} from './api/provisioning.views.js';
import {
  HistoryEntrySchema,
  JobViewSchema,
  MetricSeriesSchema,
  PageSchema,
  ProjectionViewSchema,
  ReplayStatusSchema,
  RunTimelineViewSchema,
  RunTrialsViewSchema,
  RunViewSchema,
  SubmitRunResponseSchema,
} from './api/views.js';
import {
  ExperimentGraphViewSchema,
  ImpactViewSchema,
  LINEAGE_MAX_DEPTH,
  LineageDirectionSchema,
  LineageStartSchema,
  LineageViewSchema,
} from './api/lineage.views.js';
import type { ErrorBody } from './errors.js';
import { CreatorSchema, MetadataSchema, TargetSchema } from './events/fileset.events.js';
import { RunOriginSchema } from './events/run.events.js';
import { CandidateSchema, RescaleConfigurationSchema } from './events/job.events.js';
import { ReuseLookupStepSchema, ReuseStepLookupSchema } from './events/reuse-steps.js';
import {
  ReusableResultSchema,
  ReuseExplanationSchema,
  VersionIntegritySchema,
} from './events/reuse.js';

/** The services that answer commands. */
export type CommandService = 'scheduler' | 'provenance' | 'catalog' | 'provisioner' | 'gateway';

/** A command as declared: who answers it, what it takes and what it answers. */
export interface CommandSpec<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly service: CommandService;
  /** One line for people (logs, generated documentation). */
  readonly summary: string;
  readonly request: Req;
  readonly response: Res;
}

/**
 * A command of the registry. Its one name in code is its key (`submitRun`); on the wire it is
 * core NATS request/reply on `<prefix>.cmd.<service>.<snake_name>` (`scheduler.submit_run`),
 * served by the service's queue group.
 */
export interface CommandDefinition<
  K extends string = string,
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
> extends CommandSpec<Req, Res> {
  readonly name: K;
  /** `scheduler.submit_run`: the service and the subject's last token. */
  readonly pattern: string;
  /** The subject's last token, `submit_run`. */
  readonly subjectName: string;
}

function defineCommands<T extends Record<string, CommandSpec>>(
  specs: T,
): { readonly [K in keyof T & string]: CommandDefinition<K, T[K]['request'], T[K]['response']> } {
  const out: Record<string, CommandDefinition> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const subjectName = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    out[name] = { ...spec, name, subjectName, pattern: `${spec.service}.${subjectName}` };
  }
  return out as {
    readonly [K in keyof T & string]: CommandDefinition<K, T[K]['request'], T[K]['response']>;
  };
}

const projectScoped = { project: z.string().min(1) };

/** Search parameters exactly as they came in the query string; the catalog reads them. */
const SearchQuery = z.record(z.string(), z.union([z.string(), z.array(z.string())]));

export const FilePutSchema = z.strictObject({
  path: FilePathSchema,
  sha256: Sha256Schema.describe('the file’s sha256 (it was uploaded as a blob first)'),
  /** When given, checked against the stored blob. */
  size: z.number().int().nonnegative().optional(),
  mediaType: MediaTypeSchema.optional(),
});

export const CommitRequestSchema = z.strictObject({
  /** The version this commit builds on (0 for the first); a different latest version is a conflict. */
  parent: z.number().int().nonnegative(),
  /**
   * Set by the gateway for a commit too large for one bus message (thousands of files): `put` and
   * `delete` are then in this blob, as JSON `{ put, delete }`, and empty here.
   */
  changesSha256: Sha256Schema.optional(),
  put: z.array(FilePutSchema).max(100_000).default([]),
  delete: z.array(FilePathSchema).max(100_000).default([]),
  metadata: MetadataSchema.default({}),
  labels: LabelsSchema.default([]),
});

export const CreateFilesetRequestSchema = z.strictObject({
  name: FilesetNameSchema,
  metadata: MetadataSchema.default({}),
  labels: LabelsSchema.default([]),
});

export const MetadataChangeSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('set'), value: MetadataSchema }),
  z.strictObject({ op: z.literal('merge'), value: MetadataSchema }),
  z.strictObject({ op: z.literal('remove'), keys: z.array(z.string()).min(1) }),
]);

export const LabelsChangeSchema = z.strictObject({
  add: LabelsSchema.default([]),
  remove: z.array(z.string()).max(256).default([]),
});

const Ok = z.object({ ok: z.literal(true) });

/** Every command, by its one name. */
export const Commands = defineCommands({
  // scheduler: runs.
  submitRun: {
    service: 'scheduler',
    summary: 'Accept a run: plan its DAG and queue the steps whose needs are met',
    request: z.object({
      ...projectScoped,
      spec: RunSpecSchema,
      submittedBy: z.string().nullable(),
      /**
       * The run's id, when acai submits a run itself and must be able to submit it again safely
       * (the second time is RUN_EXISTS); users' runs get a new one.
       */
      id: z
        .string()
        .regex(/^run-[0-9a-z]{23}$/, 'a run id (run- and 23 lower-case base32 characters)')
        .optional(),
      /** Why acai submitted the run itself (a profiling run); users' runs have none. */
      origin: RunOriginSchema.optional(),
    }),
    response: SubmitRunResponseSchema,
  },
  planRun: {
    service: 'scheduler',
    summary:
      'What a run would do, without running it: per step the configuration, predicted time, cost, start and finish, and whether its deadline and budget hold',
    request: z.object({ ...projectScoped, spec: RunSpecSchema }),
    response: RunPlanWithReuseSchema,
  },
  cancelRun: {
    service: 'scheduler',
    summary: 'Cancel a run: queued steps never run, running ones are stopped',
    request: z.object({ ...projectScoped, runId: z.string(), reason: z.string() }),
    response: z.object({ id: z.string() }),
  },

  // provenance: what happened.
  getRun: {
    service: 'provenance',
    summary: 'A run and the status of each of its jobs',
    request: z.object({ ...projectScoped, runId: z.string() }),
    response: RunViewSchema,
  },
  getRunTrials: {
    service: 'provenance',
    summary:
      "A run's sweeps: every trial's parameters, status, last metrics and objective, and the best",
    request: z.object({ ...projectScoped, runId: z.string() }),
    response: RunTrialsViewSchema,
  },
  getRunTimeline: {
    service: 'provenance',
    summary:
      "A run's timeline: its steps, trials and attempts and every decision about them (provisioning, rescaling, retries), in log order, a page at a time",
    request: z.object({
      ...projectScoped,
      runId: z.string(),
      /** Entries after this log position (0: from the start). */
      after: z.number().int().nonnegative(),
      limit: z.number().int().min(1).max(1000),
    }),
    response: RunTimelineViewSchema,
  },
  listRuns: {
    service: 'provenance',
    summary: 'Runs of a project, newest first, a page at a time',
    request: z.object({
      ...projectScoped,
      limit: z.number().int().min(1).max(500),
      cursor: z.string().nullable(),
    }),
    response: PageSchema(RunViewSchema),
  },
  getJob: {
    service: 'provenance',
    summary: 'A job: status, attempt, where it ran, how it ended',
    request: z.object({ ...projectScoped, jobId: z.string() }),
    response: JobViewSchema,
  },
  getJobHistory: {
    service: 'provenance',
    summary: 'Every event of a job, in log order',
    request: z.object({ ...projectScoped, jobId: z.string() }),
    response: z.array(HistoryEntrySchema),
  },
  getJobMetrics: {
    service: 'provenance',
    summary: 'The metrics a job printed, as series by name',
    request: z.object({
      ...projectScoped,
      jobId: z.string(),
      name: z.string().max(200).nullable(),
    }),
    response: MetricSeriesSchema,
  },
  getExperimentGraph: {
    service: 'provenance',
    summary:
      'The experiment graph of a run or of the project: artifacts (size, compute time, reads, reuses, quality) and the operations between them',
    request: z.object({
      ...projectScoped,
      runId: z.string().nullable(),
      limit: z.number().int().min(1).max(500),
      cursor: z.string().nullable(),
    }),
    response: ExperimentGraphViewSchema,
  },
  getLineage: {
    service: 'provenance',
    summary:
      'The lineage of a file set version or a job: what it was made from or what was made from it, to a depth',
    request: z.object({
      ...projectScoped,
      start: LineageStartSchema,
      direction: LineageDirectionSchema,
      depth: z.number().int().min(1).max(LINEAGE_MAX_DEPTH),
      limit: z.number().int().min(1).max(500),
      cursor: z.string().nullable(),
    }),
    response: LineageViewSchema,
  },
  getImpact: {
    service: 'provenance',
    summary:
      'What depends on a file set version, in the order it must be recomputed if the version is bad',
    request: z.object({
      ...projectScoped,
      fileset: z.string(),
      version: z.number().int().positive(),
      limit: z.number().int().min(1).max(500),
      cursor: z.string().nullable(),
    }),
    response: ImpactViewSchema,
  },
  findReusable: {
    service: 'provenance',
    summary:
      'The newest earlier results of the project with this signature (their jobs and versions), newest first',
    request: z.object({
      ...projectScoped,
      signature: z.string(),
      excludeJobId: z.string(),
      limit: z.number().int().min(1).max(20).default(5),
      /**
       * Added compatibly: the log position of the event the caller acts on (what made the step
       * ready). Provenance answers once it has applied the log up to it, at once when it has; without
       * it, a lookup that finds nothing first waits for the log's end as of now.
       */
      afterSeq: z.number().int().nonnegative().optional(),
    }),
    response: z.object({ results: z.array(ReusableResultSchema) }),
  },
  findReusableMany: {
    service: 'provenance',
    summary:
      'findReusable for many signatures in one round trip (a run’s steps planned together): for each lookup, in order, its newest earlier results, newest first',
    request: z.object({
      ...projectScoped,
      lookups: z
        .array(z.object({ signature: z.string(), excludeJobId: z.string() }))
        .min(1)
        .max(500),
      limit: z.number().int().min(1).max(20).default(5),
    }),
    response: z.object({ results: z.array(z.array(ReusableResultSchema)) }),
  },
  findReusableSteps: {
    service: 'provenance',
    summary:
      'A run’s steps looked up in one round trip: each signed by provenance once the steps it reads have results (their newest results’ outputs, by content), then looked up as findReusable does',
    request: z.object({
      ...projectScoped,
      /** In dependency order: a step's `fromStep` inputs name steps before it. */
      steps: z.array(ReuseLookupStepSchema).min(1).max(500),
      limit: z.number().int().min(1).max(20).default(5),
    }),
    response: z.object({ steps: z.array(ReuseStepLookupSchema) }),
  },
  explainReuse: {
    service: 'provenance',
    summary: 'Why a job was or was not reused: its signature against the nearest earlier job',
    request: z.object({ ...projectScoped, jobId: z.string() }),
    response: ReuseExplanationSchema,
  },
  getStorageBudget: {
    service: 'provenance',
    summary: 'A project’s storage budget for derived artifacts, and where it stands',
    request: z.object({ ...projectScoped }),
    response: StorageBudgetViewSchema,
  },
  setStorageBudget: {
    service: 'provenance',
    summary:
      'Set a project’s storage budget for derived artifacts: the materializer keeps those of highest utility within it',
    request: z.object({ ...projectScoped, ...SetStorageBudgetSchema.shape }),
    response: StorageBudgetViewSchema,
  },
  getReuseSharing: {
    service: 'provenance',
    summary: 'Whom a project shares its results with for reuse, and who shares theirs with it',
    request: z.object({ ...projectScoped }),
    response: ReuseSharingViewSchema,
  },
  setReuseSharing: {
    service: 'provenance',
    summary:
      'Set the projects whose runs may reuse a project’s results (recorded as project.reuse_sharing_changed)',
    request: z.object({
      ...projectScoped,
      ...SetReuseSharingSchema.shape,
      keyId: z.string().nullable(),
    }),
    response: ReuseSharingViewSchema,
  },
  replayProjection: {
    service: 'provenance',
    summary:
      'Start rebuilding a read model from the whole log beside the live one, swapped in when done',
    request: z.object({ projection: z.string() }),
    response: ReplayStatusSchema,
  },
  getProjection: {
    service: 'provenance',
    summary: 'A read model: how far it has applied the log, and its latest replay',
    request: z.object({ projection: z.string() }),
    response: ProjectionViewSchema,
  },

  // catalog: file sets.
  createFileset: {
    service: 'catalog',
    summary: 'Create a file set',
    request: z.object({
      ...projectScoped,
      request: CreateFilesetRequestSchema,
      createdBy: CreatorSchema,
    }),
    response: FilesetViewSchema,
  },
  commitVersion: {
    service: 'catalog',
    summary: 'Commit the next version of a file set from its parent and a change list',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      request: CommitRequestSchema,
      createdBy: CreatorSchema,
      /**
       * An idempotency key: a commit sent again with the same one (its answer was lost, the
       * catalog restarted) answers the version the first made instead of making another.
       */
      commitId: z
        .string()
        .regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'a commitId is 1-200 letters, digits and . _ : / -')
        .optional(),
    }),
    response: VersionViewSchema,
  },
  ownBlobs: {
    service: 'catalog',
    summary:
      'Record that a project has these blobs: it uploaded them, or its job wrote them (a commit may name only blobs its project has); refused past its storage quota',
    request: z
      .object({
        ...projectScoped,
        sha256s: z.array(Sha256Schema).min(1).max(10_000),
        /**
         * `sizes[i]` is the size of `sha256s[i]` in bytes, as the store counted them: what the
         * project's quota counts. Senders of earlier releases send none; the catalog then reads the
         * sizes from the store later, and counts them from then on.
         */
        sizes: z.array(z.number().int().nonnegative()).max(10_000).optional(),
      })
      .refine((r) => r.sizes === undefined || r.sizes.length === r.sha256s.length, {
        message: 'sizes must have one size per sha256',
        path: ['sizes'],
      }),
    response: Ok,
  },
  checkUpload: {
    service: 'catalog',
    summary:
      'Whether a project may upload this many bytes (of this blob, when its sha256 is known) within its storage quota; refused with the numbers if not',
    request: z.object({
      ...projectScoped,
      /** Known for `PUT /blobs/{sha256}`: bytes the project owns already are not counted again. */
      sha256: Sha256Schema.optional(),
      /** The size the upload declares (`Content-Length`), if it does. */
      size: z.number().int().nonnegative().optional(),
    }),
    response: z.object({
      usedBytes: z.number().int().nonnegative(),
      /** The quota that applies; null: none. */
      quotaBytes: z.number().int().positive().nullable(),
      /**
       * Past this many bytes the upload alone is over the quota: stop reading it there (413).
       * Null: no such limit (no quota, or bytes the project owns already).
       */
      stopAtBytes: z.number().int().positive().nullable(),
    }),
  },
  getStorage: {
    service: 'catalog',
    summary: 'How many bytes a project owns, and its storage quota',
    request: z.object(projectScoped),
    response: StorageViewSchema,
  },
  setStorageQuota: {
    service: 'catalog',
    summary: 'Set (or clear, back to the platform default) a project’s storage quota',
    request: z.object({ ...projectScoped, bytes: SetQuotaRequestSchema.shape.bytes }),
    response: StorageViewSchema,
  },
  getFileset: {
    service: 'catalog',
    summary: 'A file set, its metadata, labels and versions',
    request: z.object({ ...projectScoped, name: FilesetNameSchema }),
    response: FilesetViewSchema,
  },
  searchFilesets: {
    service: 'catalog',
    summary: 'File sets by name prefix, labels and metadata',
    request: z.object({ ...projectScoped, query: SearchQuery }),
    response: PageSchema(FilesetHitSchema),
  },
  searchVersions: {
    service: 'catalog',
    summary: 'Versions of every file set by labels, metadata, time and creator',
    request: z.object({ ...projectScoped, query: SearchQuery }),
    response: PageSchema(VersionHitSchema),
  },
  getVersion: {
    service: 'catalog',
    summary: 'One version: a number, `latest` or a label',
    request: z.object({ ...projectScoped, name: FilesetNameSchema, version: VersionRefSchema }),
    response: VersionViewSchema,
  },
  verifyVersion: {
    service: 'catalog',
    summary: 'Whether a version is intact: not evicted, and every file of its manifest stored',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      version: z.number().int().positive(),
    }),
    response: VersionIntegritySchema,
  },
  listFiles: {
    service: 'catalog',
    summary: 'The files of a version, by path, a page at a time',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      version: VersionRefSchema,
      prefix: z.string().nullable(),
      limit: z.number().int().min(1).max(10_000),
      cursor: z.string().nullable(),
    }),
    response: PageSchema(FileEntrySchema),
  },
  resolveFile: {
    service: 'catalog',
    summary: 'One file of a version, with the blob that holds it',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      version: VersionRefSchema,
      path: FilePathSchema,
    }),
    response: ResolvedFileSchema,
  },
  diffVersions: {
    service: 'catalog',
    summary: 'Paths added, removed and changed between two versions',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      from: VersionRefSchema,
      to: VersionRefSchema,
    }),
    response: VersionDiffSchema,
  },
  changeMetadata: {
    service: 'catalog',
    summary: 'Set, merge or remove metadata of a file set or one of its versions',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      target: TargetSchema,
      change: MetadataChangeSchema,
    }),
    response: FilesetViewSchema,
  },
  changeLabels: {
    service: 'catalog',
    summary: 'Add and remove labels of a file set or one of its versions',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      target: TargetSchema,
      change: LabelsChangeSchema,
    }),
    response: FilesetViewSchema,
  },
  pinVersion: {
    service: 'catalog',
    summary: 'Pin (never evicted) or unpin a version',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      version: z.number().int().positive(),
      pinned: z.boolean(),
    }),
    response: VersionViewSchema,
  },
  adoptVersion: {
    service: 'catalog',
    summary:
      'Copy a version of another project (that shares its results with this one) into this project as the next version of its file set of the same name: same files, no bytes copied',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      from: z.object({ project: z.string().min(1), version: z.number().int().positive() }),
      createdBy: CreatorSchema,
      /** As for commitVersion: sent again, it answers the version the first made. */
      commitId: z.string().regex(/^[A-Za-z0-9._:/-]{1,200}$/),
    }),
    response: VersionViewSchema,
  },
  evictVersion: {
    service: 'catalog',
    summary: 'Remove the bytes of a version that no other live version uses',
    request: z.object({
      ...projectScoped,
      name: FilesetNameSchema,
      version: z.number().int().positive(),
      reason: z.string().min(1).max(500),
      /** The materializer's reasons, recorded in the event (absent: a person evicted it). */
      decision: MaterializationDecisionSchema.optional(),
    }),
    response: EvictedVersionSchema,
  },

  // provisioner: where jobs run.
  planProvisioning: {
    service: 'provisioner',
    summary: 'What the auto-provisioner would choose for a step, and why, without running it',
    request: z.object({ ...projectScoped, step: StepSpecSchema }),
    response: ProvisionPlanViewSchema,
  },
  estimateRun: {
    service: 'provisioner',
    summary:
      'Plan steps of a run from now: each one’s share of the deadline and budget, the configuration chosen within it, and when the steps finish',
    request: z.object({
      ...projectScoped,
      steps: z.array(StepToEstimateSchema).min(1).max(10000),
      /** The instant the plan starts from (ISO 8601). */
      now: z.string(),
      /** The run's deadline (ISO 8601), or null. */
      deadline: z.string().nullable(),
      /** What is left of the run's budget (USD; zero or less when spent), or null. */
      budget: z.number().nullable(),
    }),
    response: RunPlanViewSchema,
  },
  planRescale: {
    service: 'provisioner',
    summary:
      'Whether a running job should move to another configuration to meet its share of the deadline or budget, from its measured rate, and to which',
    request: z.object({
      ...projectScoped,
      jobId: z.string().min(1),
      /**
       * The instant the measurements are from (ISO 8601), by the job's clock, as `finishBy` (a
       * simulated node's is virtual: see `job.started`'s `clock`).
       */
      now: z.string(),
      /** Steps left to the end, and steps since the last checkpoint (recomputed after a move). */
      stepsLeft: z.number().nonnegative(),
      lostSteps: z.number().nonnegative(),
      /** The running attempt's measured rate on its configuration. */
      stepsPerSecond: z.number().positive(),
      /** Seconds an attempt takes before its first step (data loading), paid again after a move. */
      startupSeconds: z.number().nonnegative(),
      /** USD its attempts have cost so far. */
      spent: z.number().nonnegative(),
      finishBy: z.string().nullable(),
      maxCost: z.number().positive().nullable(),
      /**
       * Seconds one Spot interruption would cost it from now (a new node's start, its start-up and
       * the work since its checkpoint): a job on Spot is held to its deadline with the
       * interruptions its remaining time is exposed to counted (absent: none counted).
       */
      spotLossSeconds: z.number().nonnegative().optional(),
    }),
    response: z.object({
      /** `stay`: where it runs is best, or no move helps; `up`/`down`: move to `to`. */
      decision: z.enum(['stay', 'up', 'down']),
      reason: z.string(),
      from: RescaleConfigurationSchema,
      to: RescaleConfigurationSchema.nullable(),
      alternatives: z.array(CandidateSchema).max(20),
      /**
       * Added compatibly: the least the job is predicted to cost where it runs or on any
       * configuration it could move to, one more Spot interruption held back on Spot: what its
       * run's budget left is judged against (absent: an older provisioner; null: no cost known).
       */
      leastCost: z.number().nonnegative().nullable().optional(),
    }),
  },
  listOffers: {
    service: 'provisioner',
    summary: 'Every configuration the enabled providers offer, priced, and the instance types',
    request: z.object({}),
    response: OffersViewSchema,
  },
  listNodes: {
    service: 'provisioner',
    summary: 'Nodes running executors, and instances still booting',
    /** With `project`, each node lists only that project's jobs; without, every job (admin). */
    request: z.object({ project: z.string().min(1).optional() }),
    response: z.object({ items: z.array(NodeViewSchema) }),
  },
  checkResources: {
    service: 'provisioner',
    summary:
      'Check that every step of a run fits some configuration; the error names the one that does not',
    request: z.object({
      steps: z.array(
        z.object({
          name: z.string(),
          cpu: z.number().positive(),
          memoryMb: z.number().positive(),
          auto: z.boolean(),
          /** The configuration the step is pinned to, if it is. */
          offer: z.string().optional(),
          providers: z.array(z.string()).optional(),
        }),
      ),
    }),
    response: Ok,
  },

  // gateway: the project's secrets, for the executor that starts a job naming them.
  resolveSecrets: {
    service: 'gateway',
    summary: 'The values of a project’s secrets, for a job about to start (executors only)',
    request: z.object({ ...projectScoped, names: z.array(SecretNameSchema).min(1).max(256) }),
    /** Every name asked for; a missing one is an error naming it. */
    response: z.object({ values: z.record(z.string(), z.string()) }),
  },
  // gateway: the logs stream of a project, for a node about to publish a job's output to it.
  ensureLogStream: {
    service: 'gateway',
    summary:
      'Create a project’s logs stream if it is missing (nodes that publish job output to it)',
    request: z.object({ ...projectScoped }),
    response: Ok,
  },
});

export type CommandName = keyof typeof Commands;
/** What a sender passes (defaults not yet applied). */
export type CommandRequest<K extends CommandName> = z.input<(typeof Commands)[K]['request']>;
/** A command's request as its handler receives it: validated, with defaults applied. */
export type CommandPayload<K extends CommandName> = z.output<(typeof Commands)[K]['request']>;
/** What a command answers: what its handler returns and its sender receives. */
export type CommandResult<K extends CommandName> = z.output<(typeof Commands)[K]['response']>;

/** Every command a service answers, by name. */
export function commandsOf(service: CommandService): CommandDefinition[] {
  return Object.values(Commands).filter((c) => c.service === service);
}

/** The command with this wire pattern (`scheduler.submit_run`), if there is one. */
export function commandByPattern(pattern: string): CommandDefinition | undefined {
  return (Object.values(Commands) as CommandDefinition[]).find((c) => c.pattern === pattern);
}

/** What a command handler answers on the wire. */
export type CommandReply<T> = { ok: true; result: T } | { ok: false; error: ErrorBody };

/** Subjects of core NATS control messages. */
export const Controls = {
  /** Broadcast to every executor: stop this job if you run it. */
  cancelJob: 'job.cancel',
  /**
   * Broadcast to every executor: if you run this attempt of the job, ask it to checkpoint
   * (SIGTERM), stop it after the grace period, and record it as rescaled.
   */
  rescaleJob: 'job.rescale',
  /** Each executor says, every few seconds, that it is alive and how busy it is. */
  nodeHeartbeat: 'node.heartbeat',
  /** Broadcast to every gateway: this API key was revoked, forget it now. */
  keyRevoked: 'key.revoked',
  /** Asked of every service (one replica of each answers): a page of its dead letters. */
  listDeadLetters: 'dead_letters.list',
  /** Asked of every service (one replica of each answers): take these dead letters back. */
  redriveDeadLetters: 'dead_letters.redrive',
} as const;

export const NodeHeartbeatSchema = z.object({
  /** The executor's id (on EC2, the instance id). */
  id: z.string(),
  pool: z.string(),
  provider: z.string(),
  instanceType: z.string().nullable(),
  cpu: z.number().positive(),
  memoryMb: z.number().int().positive(),
  slots: z.number().int().positive(),
  busy: z.number().int().nonnegative(),
  jobs: z.array(z.string()),
  /** Added compatibly: the project of each job in `jobs`, so a project is shown only its own. */
  projects: z.record(z.string(), z.string()).default({}),
  startedAt: z.string(),
  /** How enforceable the limits are there: cgroup-v2, cgroup-v1 or none. */
  limits: z.string(),
});
export type NodeHeartbeat = z.infer<typeof NodeHeartbeatSchema>;

export const CancelJobControlSchema = z.object({
  project: z.string(),
  jobId: z.string(),
  reason: z.string(),
});
export type CancelJobControl = z.infer<typeof CancelJobControlSchema>;

export const RescaleJobControlSchema = z.object({
  project: z.string(),
  jobId: z.string(),
  attempt: z.number().int().positive(),
  reason: z.string(),
  graceSeconds: z.number().int().nonnegative(),
});
export type RescaleJobControl = z.infer<typeof RescaleJobControlSchema>;
