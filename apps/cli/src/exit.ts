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
  if (error instanceof AcaiConnectionError) return unreachable(error);
  if (error instanceof AcaiProtocolError) return error.message;
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

/** The code of what made a request fail (`ECONNREFUSED` …), from the fetch error's causes. */
function systemCodeOf(error: unknown): string | undefined {
  // Read as plain objects: an error made in another realm (a test's vm) is no `Error` here.
  let e: unknown = error;
  for (let depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    e = cause;
  }
  return undefined;
}

/** One line: why the gateway could not be reached, and what to check. */
function unreachable(error: AcaiConnectionError): string {
  const code = systemCodeOf(error.cause);
  const host = URL.canParse(error.url) ? new URL(error.url).hostname : error.url;
  const why =
    code === 'ECONNREFUSED'
      ? 'nothing listens there (connection refused)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `the host '${host}' is not known (${code})`
        : code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT'
          ? 'the connection timed out'
          : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
            ? 'the connection was closed before an answer'
            : (code ?? 'the request failed');
  return `cannot reach acai at ${error.url}: ${why}. Is the stack up (\`npm run up\`)? Check the URL (--url, ACAI_URL or \`acai login --url <url> --key <key>\`).`;
}
