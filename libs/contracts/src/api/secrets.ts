import { z } from 'zod';

/** A secret's name in its project: `hf-token`, `db.password`. */
export const SecretNameSchema = z
  .string({ error: 'a secret name must be a string' })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    "a secret name is 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit",
  );

export const PutSecretRequestSchema = z.strictObject({
  value: z
    .string({ error: 'value must be a string' })
    .min(1, 'value must not be empty')
    .max(65536, 'value is at most 64 KiB')
    .regex(/^[^\u0000]*$/, 'value cannot contain a NUL character')
    .describe('The secret; stored encrypted, never shown again'),
});
export type PutSecretRequest = z.infer<typeof PutSecretRequestSchema>;

/** A secret as listed: its name and dates, never its value. */
export const SecretViewSchema = z.object({
  name: z.string(),
  createdAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601'),
});
export type SecretView = z.infer<typeof SecretViewSchema>;
