import { chmod, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Where tests put what sandboxed jobs must reach: not /tmp (each job has a private one). */
const SHARED_ROOT = '/var/lib/acai-test';

/**
 * A new folder that jobs can read (scripts a test writes for them, files a test creates for a
 * running job to notice), and write when `writable` (mode 1777, like /tmp). A sandboxed job runs
 * as another user with a private /tmp, so as root the folder is made under /var/lib/acai-test;
 * otherwise in the temp folder.
 */
export async function sharedWithJobs(
  prefix: string,
  options: { writable?: boolean } = {},
): Promise<string> {
  if (process.getuid?.() !== 0) return mkdtemp(path.join(os.tmpdir(), prefix));
  await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
  await chmod(SHARED_ROOT, 0o755);
  const dir = await mkdtemp(path.join(SHARED_ROOT, prefix));
  await chmod(dir, options.writable === true ? 0o1777 : 0o755);
  return dir;
}
