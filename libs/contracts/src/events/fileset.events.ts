import { z } from 'zod';
import { MaterializationDecisionSchema } from '../api/materialization.js';
import { defineEvent } from './envelope.js';

export const FILESET = 'fileset';

/** Who or what made a file set or a version: an upload with a key, or a job whose output it is. */
export const CreatorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('key'), keyId: z.string() }),
  z.object({
    kind: z.literal('job'),
    jobId: z.string(),
    runId: z.string(),
    step: z.string(),
    parameters: z.record(z.string(), z.string()),
    code: z.string().nullable(),
  }),
]);
export type Creator = z.infer<typeof CreatorSchema>;

export const MetadataSchema = z.record(z.string(), z.unknown());
export type Metadata = z.infer<typeof MetadataSchema>;

/** A metadata or label change applies to the file set itself or to one of its versions. */
export const TargetSchema = z.object({ version: z.number().int().positive().nullable() });

export const ManifestRefSchema = z.object({
  /** The manifest is itself a content-addressed blob: sorted JSON of path → file. */
  sha256: z.string(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
export type ManifestRef = z.infer<typeof ManifestRefSchema>;

export const FilesetCreatedV1 = defineEvent({
  type: 'fileset.created',
  version: 1,
  writers: ['catalog'],
  aggregate: FILESET,
  description: 'A file set was created in a project, with its name, metadata and labels.',
  schema: z.object({
    name: z.string(),
    metadata: MetadataSchema,
    labels: z.array(z.string()),
    createdBy: CreatorSchema,
  }),
});

export const FilesetVersionCommittedV1 = defineEvent({
  type: 'fileset.version_committed',
  version: 1,
  writers: ['catalog'],
  aggregate: FILESET,
  description:
    'A new immutable version: its manifest, what changed from its parent, and who made it.',
  schema: z.object({
    version: z.number().int().positive(),
    parent: z.number().int().nonnegative(),
    manifest: ManifestRefSchema,
    changes: z.object({
      added: z.number().int(),
      replaced: z.number().int(),
      deleted: z.number().int(),
    }),
    metadata: MetadataSchema,
    labels: z.array(z.string()),
    createdBy: CreatorSchema,
    /**
     * Added compatibly: the commit's idempotency key, when its sender gave one (an executor gives
     * `<job>.output.<fileset>` for an output, whatever the attempt, and
     * `<job>.<attempt>.checkpoint.<n>` for a checkpoint): the same commit sent again answers this
     * version, not a new one.
     */
    commitId: z.string().optional(),
  }),
});

export const FilesetMetadataChangedV1 = defineEvent({
  type: 'fileset.metadata_changed',
  version: 1,
  writers: ['catalog'],
  aggregate: FILESET,
  description:
    'The metadata of the file set (version null) or of one version, as it is after the change.',
  schema: z.object({ target: TargetSchema, metadata: MetadataSchema }),
});

export const FilesetLabelsChangedV1 = defineEvent({
  type: 'fileset.labels_changed',
  version: 1,
  writers: ['catalog'],
  aggregate: FILESET,
  description:
    'The labels of the file set (version null) or of one version, as they are after the change.',
  schema: z.object({ target: TargetSchema, labels: z.array(z.string()) }),
});

export const FilesetVersionPinnedV1 = defineEvent({
  type: 'fileset.version_pinned',
  version: 1,
  writers: ['catalog'],
  aggregate: FILESET,
  description: 'A version was pinned (never evicted) or unpinned.',
  schema: z.object({ version: z.number().int().positive(), pinned: z.boolean() }),
});

export const FilesetVersionEvictedV1 = defineEvent({
  type: 'fileset.version_evicted',
  version: 1,
  writers: ['catalog'],
  aggregate: FILESET,
  description:
    'The bytes of a version were removed; its manifest and lineage stay, and it can be recomputed.',
  schema: z.object({
    version: z.number().int().positive(),
    reason: z.string(),
    /** Added compatibly: the materializer's reasons, when it evicted the version. */
    decision: MaterializationDecisionSchema.optional(),
  }),
});
