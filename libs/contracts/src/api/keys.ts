import { z } from 'zod';

/**
 * What a project's API key may do: `read` the project's resources, also `write` them (upload,
 * commit, submit and cancel runs), or also administer the project (manage its keys).
 */
export const KeyScopeSchema = z.enum(['read', 'write', 'admin']);
export type KeyScope = z.infer<typeof KeyScopeSchema>;

export const CreateKeyRequestSchema = z.strictObject({
  scope: KeyScopeSchema.describe('`read`, `write` or `admin`'),
  name: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[^\p{Cc}]*$/u, 'a name has no control characters')
    .optional()
    .describe('What the key is for, to tell keys apart (`ci`, `notebook`)'),
});
export type CreateKeyRequest = z.infer<typeof CreateKeyRequestSchema>;

/** An API key as listed: never its secret, nor its hash. */
export const KeyViewSchema = z.object({
  id: z.string(),
  project: z.string(),
  name: z.string().nullable(),
  prefix: z.string().describe('The first characters of the key, to recognise it'),
  scope: KeyScopeSchema,
  createdAt: z.string().describe('ISO 8601'),
  lastUsedAt: z
    .string()
    .nullable()
    .describe('When it was last used, to the minute (null: never, or not since this field came)'),
  revokedAt: z.string().nullable(),
});
export type KeyView = z.infer<typeof KeyViewSchema>;

/** A key just created: the view and, this once, the key itself. */
export const CreatedKeySchema = KeyViewSchema.extend({
  key: z.string().describe('The API key, shown once: keep it'),
});
export type CreatedKey = z.infer<typeof CreatedKeySchema>;

/** Broadcast on `<prefix>.ctl.key.revoked` to every gateway replica. */
export const KeyRevokedControlSchema = z.object({ project: z.string(), keyId: z.string() });
export type KeyRevokedControl = z.infer<typeof KeyRevokedControlSchema>;
