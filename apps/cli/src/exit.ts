import { CommanderError } from 'commander';
import { AcaiApiError, AcaiConnectionError, AcaiProtocolError } from '@acai/sdk';

/** What `acai` exits with (documented in apps/cli/README.md). */
export const ExitCode = {
  Ok: 0,
  /** The run it followed failed or was cancelled. */
  RunFailed: 1,
  /** A wrong command line, or a spec or request the server found invalid (400). */
  Usage: 2,
  NotFound: 3,
  /** No key, a key refused (401), or a key that may not do this (403). */
  Auth: 4,
  /** The server could not be reached, failed, or is unavailable (5xx, 429 after retries). */
  Unavailable: 5,
  /** Refused as it stands: a conflict (409), too large (413), cannot be met (422), no room (507). */
  Refused: 6,
  /** Stopped by Ctrl-C. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI itself found (a bad file, no login): its message and exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** The exit code of an error. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof CommanderError) return ExitCode.Usage;
  if (error instanceof AcaiApiError) {
    if (error.status === 400 || error.status === 415 || error.status === 416) return ExitCode.Usage;
    if (error.status === 401 || error.status === 403) return ExitCode.Auth;
    if (error.status === 404) return ExitCode.NotFound;
    if ([409, 413, 422, 507].includes(error.status)) return ExitCode.Refused;
    return ExitCode.Unavailable;
  }
  if (error instanceof AcaiConnectionError || error instanceof AcaiProtocolError) {
    return ExitCode.Unavailable;
  }
  return ExitCode.Unavailable;
}

/** What to tell the user about an error: what happened and what to do, never a stack trace. */
export function messageOf(error: unknown): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof AcaiApiError) {
    const fields = error.details
      .filter((d) => d.message !== undefined)
      .map((d) => `\n  ${d.path === undefined || d.path === '' ? '' : `${d.path}: `}${d.message}`)
      .join('');
    const said = `${error.detail}${fields}`;
    switch (error.status) {
      case 401:
        return `the server refused the API key: ${said}\nRun \`acai login --url <url> --key <key>\` with a valid key, or set ACAI_API_KEY.`;
      case 403:
        return `this key may not do that: ${said}\nUse a key with the scope it needs (an admin of the project can make one: \`acai keys create --scope write\`).`;
      case 429:
        return `the server is still refusing requests for now (rate limited) after retrying: ${said}\nWait a moment and try again.`;
      default:
        return error.status >= 500
          ? `the server failed (${error.status} ${error.code}): ${said}\nTry again in a moment; if it persists, look at the server's logs.`
          : said;
    }
  }
  if (error instanceof AcaiConnectionError) {
    return `${error.message}\nIs acai running there? Check the URL (\`acai login --url <url>\`, or ACAI_URL).`;
  }
  if (error instanceof AcaiProtocolError) return error.message;
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
