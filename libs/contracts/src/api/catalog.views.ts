import { z } from 'zod';
import { CreatorSchema, MetadataSchema } from '../events/fileset.events.js';

/** One version of a file set, as the API shows it. */
export const VersionViewSchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  /** The version it was made from (0 for the first). */
  parent: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** The manifest (path → sha256, size, media type) is itself a blob with this sha256. */
  manifestSha256: z.string(),
  metadata: MetadataSchema,
  labels: z.array(z.string()),
  /** A pinned version is never evicted. */
  pinned: z.boolean(),
  /** Its bytes were removed; its manifest, metadata and lineage stay. */
  evicted: z.boolean(),
  createdBy: CreatorSchema,
});
export type VersionView = z.infer<typeof VersionViewSchema>;

export const FilesetViewSchema = z.object({
  name: z.string(),
  metadata: MetadataSchema,
  labels: z.array(z.string()),
  /** 0 while it has no version. */
  latestVersion: z.number().int().nonnegative(),
  versions: z.array(VersionViewSchema),
});
export type FilesetView = z.infer<typeof FilesetViewSchema>;

/** A file set found by a search. */
export const FilesetHitSchema = z.object({
  name: z.string(),
  metadata: MetadataSchema,
  labels: z.array(z.string()),
  latestVersion: z.number().int().nonnegative(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type FilesetHit = z.infer<typeof FilesetHitSchema>;

/** A version found by a search. */
export const VersionHitSchema = z.object({
  fileset: z.string(),
  version: z.number().int().positive(),
  metadata: MetadataSchema,
  labels: z.array(z.string()),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  createdAt: z.string(),
  createdBy: CreatorSchema,
  pinned: z.boolean(),
  evicted: z.boolean(),
  /** It is its file set's newest version. */
  latest: z.boolean(),
});
export type VersionHit = z.infer<typeof VersionHitSchema>;

/** One file of a version. */
export const FileEntrySchema = z.object({
  path: z.string(),
  sha256: z.string(),
  size: z.number().int().nonnegative(),
  mediaType: z.string(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** One file, with the version it was resolved in (`latest` and labels name a number). */
export const ResolvedFileSchema = FileEntrySchema.extend({ version: z.number().int().positive() });
export type ResolvedFile = z.infer<typeof ResolvedFileSchema>;

/** Paths added, removed and changed from one version to another, each sorted. */
export const VersionDiffSchema = z.object({
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.string()),
});
export type VersionDiff = z.infer<typeof VersionDiffSchema>;

/** An evicted version, and what happened to its bytes. */
export const EvictedVersionSchema = VersionViewSchema.extend({
  /** Blobs removed: no other live version used them. */
  deletedBlobs: z.number().int().nonnegative(),
  /** Blobs kept because another live version uses them. */
  sharedBlobs: z.number().int().nonnegative(),
});
export type EvictedVersion = z.infer<typeof EvictedVersionSchema>;

/**
 * A project's storage: the bytes of the distinct blobs it owns (uploaded, written by its jobs, used
 * by its versions), and the quota that applies to it.
 */
export const StorageViewSchema = z.object({
  project: z.string(),
  usedBytes: z
    .number()
    .int()
    .nonnegative()
    .describe('Bytes of the distinct blobs the project owns, committed or not'),
  blobs: z.number().int().nonnegative().describe('How many distinct blobs it owns'),
  quotaBytes: z
    .number()
    .int()
    .positive()
    .nullable()
    .describe('The most it may own, in bytes; null: no quota'),
  quotaSource: z
    .enum(['project', 'default'])
    .describe(
      '`project`: set for this project by the platform admin; `default`: the platform’s (ACAI_PROJECT_QUOTA_BYTES)',
    ),
  availableBytes: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe('What it may still upload; null: no quota'),
});
export type StorageView = z.infer<typeof StorageViewSchema>;

/** How the platform admin sets a project's quota. */
export const SetQuotaRequestSchema = z.strictObject({
  bytes: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe(
      'The most the project may own, in bytes; 0: no quota for this project; null: the platform default (ACAI_PROJECT_QUOTA_BYTES) again',
    ),
});
export type SetQuotaRequest = z.infer<typeof SetQuotaRequestSchema>;
