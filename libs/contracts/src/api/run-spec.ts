import { z } from 'zod';
import { NetworkSchema, ProvisionSpecSchema, ResourcesSchema } from '../events/job.events.js';
import { FilesetNameSchema, LabelSchema, VersionRefSchema } from './names.js';
import { SecretNameSchema } from './secrets.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameField = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(
      NAME,
      `${what} must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _');

const RELATIVE_DIR = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))(?!.*\/\/)[^\\\u0000]+$/;

export const InputSpecSchema = z.strictObject({
  fileset: FilesetNameSchema,
  /** A version number, `latest` (the default, resolved when the job is queued) or a label. */
  version: VersionRefSchema.default('latest'),
  /** Folder of the job's folder to stage it into (default `inputs/<fileset>`). */
  path: z.string().regex(RELATIVE_DIR, 'a relative folder without .. or //').optional(),
});
export type InputSpec = z.infer<typeof InputSpecSchema>;

export const OutputSpecSchema = z.strictObject({
  fileset: FilesetNameSchema,
  /** Folder of the job's folder whose files become the new version (default `outputs/<fileset>`). */
  path: z.string().regex(RELATIVE_DIR, 'a relative folder without .. or //').optional(),
  labels: z.array(LabelSchema).max(32).optional(),
  /** false: the folder is made and named for the job, but not saved (a scratch output). */
  save: z.boolean().optional(),
});
export type OutputSpec = z.infer<typeof OutputSpecSchema>;

export const StepSpecSchema = z.strictObject({
  name: nameField('step name'),
  command: z
    .array(z.string().min(1, 'an argument must not be empty').max(8192), {
      error: 'command must be an array of strings (argv), e.g. ["python", "train.py"]',
    })
    .min(1, 'command must name a program to run')
    .max(1024),
  needs: z.array(nameField('a needed step')).max(256).optional(),
  env: z
    .record(
      envName,
      z
        .string()
        .max(65536)
        .regex(/^[^\u0000]*$/, 'environment variable values cannot contain a NUL character'),
    )
    .optional(),
  resources: ResourcesSchema.partial().optional(),
  /** Wall-clock limit: the job is stopped, with reason `timed_out`, after this many seconds. */
  timeoutSeconds: z
    .number()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
  /** File set versions staged into the job's folder before it starts. */
  inputs: z.array(InputSpecSchema).max(64).optional(),
  /** Folders of the job's folder committed as new file set versions when it succeeds. */
  outputs: z.array(OutputSpecSchema).max(64).optional(),
  /** Let the auto-provisioner choose the configuration (see ProvisionSpecSchema). */
  provision: ProvisionSpecSchema.optional(),
  /**
   * `none`: the job runs in its own network namespace with no interfaces (not even loopback up),
   * so it can reach nothing; `default`: the node's network.
   */
  network: NetworkSchema.optional(),
  /**
   * Environment variables set from the project's secrets when the job starts: `{ "HF_TOKEN":
   * "hf-token" }`. Only the names travel (events, the job's view); the value never does.
   */
  secrets: z.record(envName, SecretNameSchema).optional(),
});
export type StepSpec = z.infer<typeof StepSpecSchema>;

export const RunSpecSchema = z.strictObject({
  name: nameField('run name'),
  steps: z
    .array(StepSpecSchema, { error: 'steps must be an array of steps' })
    .min(1, { error: 'a run needs at least one step: steps is empty' })
    .max(10000, { error: 'a run has at most 10000 steps' }),
});
export type RunSpec = z.infer<typeof RunSpecSchema>;

export const DEFAULT_RESOURCES = { cpu: 1, memoryMb: 512 } as const;
