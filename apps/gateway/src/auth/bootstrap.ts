import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AuthProblems, isProblem } from '@acai/contracts';
import type { Logger } from '@acai/platform';
import type { KeysRepository } from './keys.repository.js';

/**
 * First start: creates project `default` with its admin key, which is also the platform admin key, and writes the key, once, to
 * `keyFile` (mode 0600). Later starts find the project and leave everything as it is.
 */
export async function bootstrapDefaultProject(
  keys: KeysRepository,
  keyFile: string,
  logger: Logger,
): Promise<void> {
  if (await keys.projectExists('default')) return;
  let created: Awaited<ReturnType<KeysRepository['createProject']>>;
  try {
    created = await keys.createProject('default', true);
  } catch (error) {
    // Another gateway replica starting at the same time made it first.
    if (isProblem(error, AuthProblems.PROJECT_EXISTS)) return;
    throw error;
  }
  await mkdir(path.dirname(keyFile), { recursive: true });
  await writeFile(keyFile, `${created.key}\n`, { mode: 0o600 });
  logger.info(
    { keyFile, keyId: created.id },
    'created project default; its API key is in the key file',
  );
}
