import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CliError, ExitCode } from './exit.js';

/** What `acai login` stores. */
export const ConfigSchema = z.object({
  url: z.url(),
  key: z.string().min(1),
  /** The project of the key (for `acai keys`). */
  project: z.string().min(1).default('default'),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Where the config is: $ACAI_CONFIG, else ~/.config/acai/config.json (XDG_CONFIG_HOME honoured). */
export function configPath(env: NodeJS.ProcessEnv): string {
  const explicit = env['ACAI_CONFIG'];
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  const base = env['XDG_CONFIG_HOME'] || path.join(env['HOME'] ?? os.homedir(), '.config');
  return path.join(base, 'acai', 'config.json');
}

/** The stored config, or null when there is none. */
export async function readConfig(env: NodeJS.ProcessEnv): Promise<Config | null> {
  const file = configPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, ExitCode.Usage);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(
      `${file} is not JSON: run \`acai login\` again to rewrite it`,
      ExitCode.Usage,
    );
  }
  const parsed = ConfigSchema.safeParse(value);
  if (!parsed.success) {
    throw new CliError(
      `${file} is not an acai config: run \`acai login\` again to rewrite it`,
      ExitCode.Usage,
    );
  }
  return parsed.data;
}

/** Stores the config, readable by its owner only (0600, in a 0700 folder). */
export async function writeConfig(env: NodeJS.ProcessEnv, config: Config): Promise<string> {
  const file = configPath(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
  return file;
}

/** Where to connect and with which key: the environment (ACAI_URL, ACAI_API_KEY) over the config. */
export async function resolveConnection(env: NodeJS.ProcessEnv): Promise<Config> {
  const stored = await readConfig(env);
  const url = env['ACAI_URL'] || stored?.url;
  const key = env['ACAI_API_KEY'] || stored?.key;
  if (url === undefined || key === undefined) {
    throw new CliError(
      'not logged in: run `acai login --url <url> --key <key>`, or set ACAI_URL and ACAI_API_KEY',
      ExitCode.Auth,
    );
  }
  return { url, key, project: env['ACAI_PROJECT'] || stored?.project || 'default' };
}
