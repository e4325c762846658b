import { z } from 'zod';
import { RunSpecSchema, StepSpecSchema } from './api/run-spec.js';
import { CreatorSchema } from './events/fileset.events.js';
import type { ErrorBody } from './errors.js';

/**
 * Commands are core NATS request/reply on `<prefix>.cmd.<service>.<name>`, served by a queue
 * group per service. Each is named here with its request schema.
 */
export function defineCommand<S extends z.ZodType>(service: string, name: string, request: S) {
  return { service, name, pattern: `${service}.${name}`, request } as const;
}

const projectScoped = { project: z.string().min(1) };

const Metadata = z.record(z.string(), z.unknown());
const Labels = z.array(z.string()).max(256);
const FilesetName = z.string().min(1).max(100);
/** A version number, `latest`, or a label such as `prod`. */
const VersionRef = z.union([z.number().int().positive(), z.string().min(1).max(63)]);
const Target = z.object({ version: z.number().int().positive().nullable() });
/** Search parameters exactly as they came in the query string; the catalog reads them. */
const SearchQuery = z.record(z.string(), z.union([z.string(), z.array(z.string())]));

export const FilePutSchema = z.strictObject({
  path: z.string(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'expected the file’s sha256: 64 lower-case hex digits'),
  /** When given, checked against the stored blob. */
  size: z.number().int().nonnegative().optional(),
  mediaType: z.string().max(255).optional(),
});

export const CommitRequestSchema = z.strictObject({
  /** The version this commit builds on (0 for the first); a different latest version is a conflict. */
  parent: z.number().int().nonnegative(),
  /**
   * Set by the gateway for a commit too large for one bus message (thousands of files): `put` and
   * `delete` are then in this blob, as JSON `{ put, delete }`, and empty here.
   */
  changesSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  put: z.array(FilePutSchema).max(100_000).default([]),
  delete: z.array(z.string()).max(100_000).default([]),
  metadata: Metadata.default({}),
  labels: Labels.default([]),
});
export type CommitRequest = z.input<typeof CommitRequestSchema>;

export const CreateFilesetRequestSchema = z.strictObject({
  name: FilesetName,
  metadata: Metadata.default({}),
  labels: Labels.default([]),
});

export const MetadataChangeSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('set'), value: Metadata }),
  z.strictObject({ op: z.literal('merge'), value: Metadata }),
  z.strictObject({ op: z.literal('remove'), keys: z.array(z.string()).min(1) }),
]);

export const LabelsChangeSchema = z.strictObject({
  add: Labels.default([]),
  remove: Labels.default([]),
});

export const Commands = {
  submitRun: defineCommand(
    'scheduler',
    'submit_run',
    z.object({ ...projectScoped, spec: RunSpecSchema, submittedBy: z.string().nullable() }),
  ),
  cancelRun: defineCommand(
    'scheduler',
    'cancel_run',
    z.object({ ...projectScoped, runId: z.string(), reason: z.string() }),
  ),
  getRun: defineCommand('provenance', 'get_run', z.object({ ...projectScoped, runId: z.string() })),
  listRuns: defineCommand(
    'provenance',
    'list_runs',
    z.object({
      ...projectScoped,
      limit: z.number().int().min(1).max(500),
      cursor: z.string().nullable(),
    }),
  ),
  getJob: defineCommand('provenance', 'get_job', z.object({ ...projectScoped, jobId: z.string() })),
  getJobHistory: defineCommand(
    'provenance',
    'get_job_history',
    z.object({ ...projectScoped, jobId: z.string() }),
  ),
  createFileset: defineCommand(
    'catalog',
    'create_fileset',
    z.object({ ...projectScoped, request: CreateFilesetRequestSchema, createdBy: CreatorSchema }),
  ),
  commitVersion: defineCommand(
    'catalog',
    'commit_version',
    z.object({
      ...projectScoped,
      name: FilesetName,
      request: CommitRequestSchema,
      createdBy: CreatorSchema,
    }),
  ),
  getFileset: defineCommand(
    'catalog',
    'get_fileset',
    z.object({ ...projectScoped, name: FilesetName }),
  ),
  searchFilesets: defineCommand(
    'catalog',
    'search_filesets',
    z.object({ ...projectScoped, query: SearchQuery }),
  ),
  searchVersions: defineCommand(
    'catalog',
    'search_versions',
    z.object({ ...projectScoped, query: SearchQuery }),
  ),
  getVersion: defineCommand(
    'catalog',
    'get_version',
    z.object({ ...projectScoped, name: FilesetName, version: VersionRef }),
  ),
  listFiles: defineCommand(
    'catalog',
    'list_files',
    z.object({
      ...projectScoped,
      name: FilesetName,
      version: VersionRef,
      prefix: z.string().nullable(),
      limit: z.number().int().min(1).max(10_000),
      cursor: z.string().nullable(),
    }),
  ),
  resolveFile: defineCommand(
    'catalog',
    'resolve_file',
    z.object({ ...projectScoped, name: FilesetName, version: VersionRef, path: z.string() }),
  ),
  diffVersions: defineCommand(
    'catalog',
    'diff_versions',
    z.object({ ...projectScoped, name: FilesetName, from: VersionRef, to: VersionRef }),
  ),
  changeMetadata: defineCommand(
    'catalog',
    'change_metadata',
    z.object({ ...projectScoped, name: FilesetName, target: Target, change: MetadataChangeSchema }),
  ),
  changeLabels: defineCommand(
    'catalog',
    'change_labels',
    z.object({ ...projectScoped, name: FilesetName, target: Target, change: LabelsChangeSchema }),
  ),
  pinVersion: defineCommand(
    'catalog',
    'pin_version',
    z.object({
      ...projectScoped,
      name: FilesetName,
      version: z.number().int().positive(),
      pinned: z.boolean(),
    }),
  ),
  evictVersion: defineCommand(
    'catalog',
    'evict_version',
    z.object({
      ...projectScoped,
      name: FilesetName,
      version: z.number().int().positive(),
      reason: z.string().min(1).max(500),
    }),
  ),
  getJobMetrics: defineCommand(
    'provenance',
    'get_job_metrics',
    z.object({ ...projectScoped, jobId: z.string(), name: z.string().max(200).nullable() }),
  ),
  replayProjection: defineCommand(
    'provenance',
    'replay_projection',
    z.object({ projection: z.string() }),
  ),
  /** What the auto-provisioner would choose for a step, and why, without running it. */
  planProvisioning: defineCommand(
    'provisioner',
    'plan',
    z.object({ ...projectScoped, step: StepSpecSchema }),
  ),
  /** Every configuration the enabled providers offer, priced; and the instance-type catalogue. */
  listOffers: defineCommand('provisioner', 'list_offers', z.object({})),
  listNodes: defineCommand('provisioner', 'list_nodes', z.object({})),
  /** Checks that every step's resources fit some configuration; a ValidationFailed error says which does not. */
  checkResources: defineCommand(
    'provisioner',
    'check_resources',
    z.object({
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
  ),
} as const;

export type CommandName = keyof typeof Commands;
export type CommandRequest<K extends CommandName> = z.input<(typeof Commands)[K]['request']>;

/** What a command handler answers on the wire. */
export type CommandReply<T> = { ok: true; result: T } | { ok: false; error: ErrorBody };

/** Subjects of core NATS control messages. */
export const Controls = {
  /** Broadcast to every executor: stop this job if you run it. */
  cancelJob: 'job.cancel',
  /** Each executor says, every few seconds, that it is alive and how busy it is. */
  nodeHeartbeat: 'node.heartbeat',
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

/** A command's request as its handler receives it: validated, with defaults applied. */
export type CommandPayload<K extends CommandName> = z.output<(typeof Commands)[K]['request']>;
