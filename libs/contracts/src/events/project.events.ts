import { z } from 'zod';
import { defineEvent } from './envelope.js';

/** A project's own settings that other projects see: whom it shares its results with. */
export const PROJECT = 'project';

export const ProjectReuseSharingChangedV1 = defineEvent({
  type: 'project.reuse_sharing_changed',
  version: 1,
  writers: ['provenance'],
  aggregate: PROJECT,
  description:
    'The project shares its results for reuse with exactly the projects `with` (empty: none; `before`: the list it replaced): a run of one of them may take a result of this project instead of computing it, as a copy of its versions in its own project. Set by `keyId`, an admin key of the project.',
  schema: z.object({
    with: z.array(z.string()),
    before: z.array(z.string()),
    keyId: z.string().nullable(),
  }),
});
