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

/** Where to connect and with which key, and where the URL came from (to say what to fix). */
export interface Connection extends Config {
  /** `--url`, `ACAI_URL` or the config file's path. */
  readonly urlFrom: string;
}

/**
 * Where to connect and with which key: `--url` over the environment (ACAI_URL, ACAI_API_KEY) over
 * the config. A URL that can never reach a gateway (not a URL, not http(s), a port out of range or
 * one HTTP clients refuse) is a usage error here, before any request.
 */
export async function resolveConnection(
  env: NodeJS.ProcessEnv,
  explicitUrl?: string,
): Promise<Connection> {
  const stored = await readConfig(env);
  const [url, urlFrom] =
    explicitUrl !== undefined && explicitUrl !== ''
      ? [explicitUrl, '--url']
      : env['ACAI_URL']
        ? [env['ACAI_URL'], 'ACAI_URL']
        : [stored?.url, configPath(env)];
  const key = env['ACAI_API_KEY'] || stored?.key;
  if (url === undefined || key === undefined) {
    throw new CliError(
      'not logged in: run `acai login --url <url> --key <key>`, or set ACAI_URL and ACAI_API_KEY',
      ExitCode.Auth,
    );
  }
  checkGatewayUrl(url, urlFrom);
  return { url, key, project: env['ACAI_PROJECT'] || stored?.project || 'default', urlFrom };
}

/**
 * Ports fetch never connects to (the Fetch standard's "bad ports"): a gateway cannot be reached
 * on one, whatever listens there.
 */
const BLOCKED_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
]);

/** Throws a usage error, in one line saying what to fix, for a URL that cannot be a gateway's. */
export function checkGatewayUrl(url: string, from: string): void {
  const fix =
    from === '--url'
      ? 'pass the gateway’s URL, e.g. --url http://127.0.0.1:8080'
      : from === 'ACAI_URL'
        ? 'set ACAI_URL to the gateway’s URL, e.g. http://127.0.0.1:8080'
        : 'run `acai login --url <url> --key <key>` with the gateway’s URL, e.g. http://127.0.0.1:8080';
  const refuse = (why: string): never => {
    throw new CliError(`${from}: '${url}' ${why}: ${fix}`, ExitCode.Usage);
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // A port past 65535 makes no URL (`http://localhost:99999`): say which part is wrong.
    const port = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(url)?.[1];
    return refuse(
      port !== undefined && Number(port) > 65535 ? `has port ${port}, past 65535` : 'is not a URL',
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    refuse(`is not an http(s) URL (${parsed.protocol.slice(0, -1)})`);
  const port = parsed.port === '' ? null : Number(parsed.port);
  if (port !== null && BLOCKED_PORTS.has(port))
    refuse(`has port ${port}, which HTTP clients refuse to connect to`);
}
