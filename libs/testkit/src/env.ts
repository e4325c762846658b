import { randomBytes } from 'node:crypto';

/**
 * Where the tests find their servers. `npm test` starts nats-server and Postgres and sets these;
 * run on its own, a test finds the ones on this machine's standard ports.
 */
export function testEnv(): { natsUrl: string; databaseUrl: string } {
  return {
    natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    databaseUrl: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

/** A short random tag for stream names, subject prefixes and schemas that no other test uses. */
export function uniqueTag(): string {
  return randomBytes(5).toString('hex');
}

/** Polls `probe` until it returns a value (not undefined), or fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
