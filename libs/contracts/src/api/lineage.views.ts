import { z } from 'zod';
import { FilesetNameSchema } from './names.js';
import { JobStatusSchema } from './views.js';

/** How far a lineage walk may go, in edges (version → job is one, job → version another). */
export const LINEAGE_MAX_DEPTH = 50;
/** A walk's depth when none is asked for. */
export const LINEAGE_DEFAULT_DEPTH = 10;

/** Where a walk starts: a file set version, or a job. */
export const LineageStartSchema = z.union([
  z.strictObject({ fileset: FilesetNameSchema, version: z.number().int().positive() }),
  z.strictObject({ jobId: z.string().min(1).max(100) }),
]);
export type LineageStart = z.infer<typeof LineageStartSchema>;

/** `up`: what it was made from; `down`: what was made from it; `both`: the two walks together. */
export const LineageDirectionSchema = z.enum(['up', 'down', 'both']);
export type LineageDirection = z.infer<typeof LineageDirectionSchema>;

/**
 * A file set version in the graph. Its id is `version:<fileset>@<version>`. Fields are null when
 * the log names the version (a job's input or output) but holds no commit of it.
 */
export const LineageVersionNodeSchema = z.object({
  kind: z.literal('version'),
  id: z.string(),
  fileset: z.string(),
  version: z.number().int().positive(),
  bytes: z.number().int().nonnegative().nullable(),
  files: z.number().int().nonnegative().nullable(),
  manifestSha256: z.string().nullable(),
  /** An upload with a key, or the job whose output it is (null: not committed in this log). */
  createdBy: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('key'), keyId: z.string() }),
      z.object({ kind: z.literal('job'), jobId: z.string() }),
    ])
    .nullable(),
  /** Its bytes were removed; its lineage stays, and it can be recomputed. */
  evicted: z.boolean(),
  /** Pinned: never evicted, by the materializer or anyone. */
  pinned: z.boolean(),
});

/** A job in the graph. Its id is `job:<job id>`. */
export const LineageJobNodeSchema = z.object({
  kind: z.literal('job'),
  id: z.string(),
  jobId: z.string(),
  runId: z.string().nullable(),
  /** The step of its run it ran. */
  step: z.string().nullable(),
  command: z.array(z.string()).nullable(),
  /** Its parameters: the environment variables it was queued with. */
  parameters: z.record(z.string(), z.string()),
  /** The code it ran, as the commit of an output recorded it (null: not recorded). */
  code: z.string().nullable(),
  status: JobStatusSchema,
  /** How long its successful attempt ran (null until it succeeds, and for a reused job). */
  durationMs: z.number().nonnegative().nullable(),
  /** It did not run: it took the result of this earlier job (`job.reused`). */
  reusedFrom: z.string().nullable(),
});

export const LineageNodeSchema = z.discriminatedUnion('kind', [
  LineageVersionNodeSchema,
  LineageJobNodeSchema,
]);
export type LineageNode = z.infer<typeof LineageNodeSchema>;

/**
 * `input`: a version a job read; `output`: a version a job made; `reused`: an earlier job's version
 * a job took as its output instead of running. Always from maker to made.
 */
export const LineageEdgeSchema = z.object({
  from: z.string(),
  to: z.string(),
  kind: z.enum(['input', 'output', 'reused']),
});
export type LineageEdge = z.infer<typeof LineageEdgeSchema>;

/** A node a walk reached, `depth` edges from the start (the shortest way). */
export const LineageReachedSchema = z.intersection(
  LineageNodeSchema,
  z.object({ depth: z.number().int().positive() }),
);
export type LineageReached = z.infer<typeof LineageReachedSchema>;

/**
 * A page of a walk: the nodes reached in order of depth, then id; the edges whose later end (in that
 * order) is on this page and whose other end is the start or a node reached, so that every edge
 * among them comes exactly once over all pages.
 */
export const LineageViewSchema = z.object({
  start: LineageNodeSchema,
  direction: LineageDirectionSchema,
  depth: z.number().int().positive(),
  items: z.array(LineageReachedSchema),
  edges: z.array(LineageEdgeSchema),
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: z.string().nullable(),
});
export type LineageView = z.infer<typeof LineageViewSchema>;

/**
 * A node downstream of a version. `level` is the longest way to it from the start: a job's level is
 * above that of every job it depends on, so jobs in order of level can be recomputed in turn.
 */
export const ImpactedSchema = z.intersection(
  LineageNodeSchema,
  z.object({ depth: z.number().int().positive(), level: z.number().int().positive() }),
);
export type Impacted = z.infer<typeof ImpactedSchema>;

/**
 * What depends on a version (every version and job downstream, to {@link LINEAGE_MAX_DEPTH}), in the
 * order they must be recomputed if it is bad: by level, then id. The jobs are the steps to rerun.
 */
export const ImpactViewSchema = z.object({
  start: LineageNodeSchema,
  /** Downstream jobs and versions in all, over every page. */
  jobs: z.number().int().nonnegative(),
  versions: z.number().int().nonnegative(),
  items: z.array(ImpactedSchema),
  nextCursor: z.string().nullable(),
});
export type ImpactView = z.infer<typeof ImpactViewSchema>;

/**
 * An artifact of the experiment graph (Derakhshan et al.): a file set version, with what keeping it
 * is worth: its size, the seconds the job that made it ran and the seconds it takes to load, how
 * often it was read or taken as a
 * result, and the best quality of the models it leads to.
 */
export const ExperimentArtifactSchema = z.object({
  id: z.string(),
  fileset: z.string(),
  version: z.number().int().positive(),
  bytes: z.number().int().nonnegative().nullable(),
  /** The job that made it (null: uploaded, source data). */
  madeBy: z.string().nullable(),
  /**
   * How long computing it took, seconds: the job that made it, or, for a version that job took from
   * an earlier result (copied from another project), the job that computed that result (null:
   * source data, or not known).
   */
  computeSeconds: z.number().nonnegative().nullable(),
  /**
   * How long the latest job that read it took to put it in place, seconds: the cost of loading it
   * instead of computing it (null: no job has read it since load times were recorded).
   */
  loadSeconds: z.number().nonnegative().nullable(),
  /** Jobs that read it. */
  reads: z.number().int().nonnegative(),
  /** Jobs that took it as their result instead of running (reuse). */
  reuses: z.number().int().nonnegative(),
  /** The best value of a step's `quality` metric among the models it leads to (null: none). */
  quality: z.number().nullable(),
  evicted: z.boolean(),
  pinned: z.boolean(),
});
export type ExperimentArtifact = z.infer<typeof ExperimentArtifactSchema>;

/** An operation of the experiment graph: a job, from the artifacts it read to those it made. */
export const ExperimentOperationSchema = z.object({
  id: z.string(),
  jobId: z.string(),
  runId: z.string().nullable(),
  step: z.string().nullable(),
  status: JobStatusSchema,
  durationMs: z.number().nonnegative().nullable(),
  reusedFrom: z.string().nullable(),
  inputs: z.array(z.string()),
  /** What it made, or (a reused job) the earlier versions it took. */
  outputs: z.array(z.string()),
});
export type ExperimentOperation = z.infer<typeof ExperimentOperationSchema>;

export const ExperimentGraphViewSchema = z.object({
  /** The run asked for (null: the whole project). */
  runId: z.string().nullable(),
  /** A page of operations, in log order, and every artifact they touch. */
  operations: z.array(ExperimentOperationSchema),
  artifacts: z.array(ExperimentArtifactSchema),
  nextCursor: z.string().nullable(),
});
export type ExperimentGraphView = z.infer<typeof ExperimentGraphViewSchema>;
