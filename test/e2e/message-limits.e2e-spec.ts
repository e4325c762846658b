import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSystem, type TestSystem } from '../support/system.js';

/**
 * A request the gateway accepts (its body limit raised above a bus message) that would not fit in
 * one message of the bus is refused with 413 naming the limit, and nothing of it is kept; not a 500.
 */
let system: TestSystem;

beforeAll(async () => {
  system = await startSystem({ env: { ACAI_MAX_BODY_BYTES: String(4 * 1024 * 1024) } });
});

afterAll(async () => {
  await system?.close();
});

describe('messages larger than the bus takes', () => {
  it('refuses a run spec too large for one message with 413 naming the limit', async () => {
    const before = await system.api('GET', '/api/v1/runs');
    // 40 steps with 60 kB of environment each: 2.4 MB, more than a 1 MiB message.
    const steps = Array.from({ length: 40 }, (_, i) => ({
      name: `s${i}`,
      command: ['true'],
      env: { BIG: 'x'.repeat(60_000) },
    }));
    const refused = await system.api('POST', '/api/v1/runs', { name: 'huge', steps });
    expect(refused.status).toBe(413);
    const problem = refused.body as { reason: string; detail: string; retryable?: boolean };
    expect(problem.reason).toBe('MESSAGE_TOO_LARGE');
    expect(problem.detail).toMatch(/holds at most \d+ \(nats-server max_payload 1048576/);
    expect(problem.detail).toMatch(/a smaller run spec/);
    expect(problem.retryable).toBeFalsy();
    const after = await system.api('GET', '/api/v1/runs');
    expect(after.body).toEqual(before.body);
  });
});
