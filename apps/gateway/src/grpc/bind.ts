import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** `host:port` as gRPC and people write it (`[::1]:50051` for IPv6). */
export function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * The addresses to bind for `host`, each an IP literal, so that the server binds exactly these
 * and says which one failed (grpc-js, given a name, resolves it itself and only says "No address
 * added out of total N resolved"). An IP literal is itself; a name is every address it resolves to.
 */
export async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  const found = await lookup(host, { all: true });
  return [...new Set(found.map((a) => a.address))];
}

/** The system error code in a failed bind's message (`listen EADDRINUSE: …`), if any. */
export function bindErrorCode(message: string): string | undefined {
  return /\b(E[A-Z]{3,})\b/.exec(message)?.[1];
}

/** Why a bind failed and what to do, in one sentence (no grpc-js internals). */
export function bindFailure(address: string, message: string): string {
  const code = bindErrorCode(message);
  switch (code) {
    case 'EADDRINUSE':
      return `cannot serve gRPC on ${address}: the port is taken (EADDRINUSE); is another gateway there? Set ACAI_GRPC_PORT to a free port (0: any)`;
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return `cannot serve gRPC on ${address}: this machine has no such address (${code}; IPv6 off?); set ACAI_HTTP_HOST to one of its addresses (127.0.0.1, 0.0.0.0 …)`;
    case 'EACCES':
      return `cannot serve gRPC on ${address}: not allowed to listen there (EACCES; a port below 1024 needs privileges); set ACAI_GRPC_PORT to a port above 1023`;
    default:
      return `cannot serve gRPC on ${address}: ${code ?? message}; check ACAI_HTTP_HOST and ACAI_GRPC_PORT`;
  }
}

/**
 * Where a line grpc-js logs itself belongs in the gateway's log: its report of a failed bind is
 * said once, better, by the gateway (debug); anything else it reports as an error is a warning.
 */
export function grpcLogLevel(line: string): 'debug' | 'warn' {
  return /address(es)? added out of total \d+ resolved/.test(line) ? 'debug' : 'warn';
}
