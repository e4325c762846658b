import { z } from 'zod';

const ProjectNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'a project name is 1-40 lower-case letters, digits and -');

/** `PUT /api/v1/projects/{name}/reuse-sharing`: the projects that may reuse this one's results. */
export const SetReuseSharingSchema = z.strictObject({
  with: z
    .array(ProjectNameSchema)
    .max(100, 'a project shares its results with at most 100 projects')
    .describe(
      'The projects whose runs may reuse this project’s results (replacing the list); empty: none',
    ),
});
export type SetReuseSharing = z.infer<typeof SetReuseSharingSchema>;

/** Whom a project shares its results with for reuse, and who shares with it. */
export const ReuseSharingViewSchema = z.object({
  project: z.string(),
  /** The projects whose runs may reuse this project's results. */
  with: z.array(z.string()),
  /** The projects whose results this project's runs may reuse. */
  sharedWithIt: z.array(z.string()),
});
export type ReuseSharingView = z.infer<typeof ReuseSharingViewSchema>;
