import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { commonConfig, ConfigError, loadConfig, port } from './config.js';

const spec = {
  ...commonConfig,
  ACAI_HTTP_PORT: { schema: port(8183), description: 'ops port' },
  ACAI_SLOTS: { schema: z.coerce.number().int().positive().default(2), description: 'slots' },
};

describe('loadConfig', () => {
  it('applies defaults and coerces numbers', () => {
    const config = loadConfig(spec, { DATABASE_URL: 'postgres://u@h/db', ACAI_SLOTS: '4' });
    expect(config.ACAI_HTTP_PORT).toBe(8183);
    expect(config.ACAI_SLOTS).toBe(4);
    expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
  });

  it('names every bad variable at once, and hides secret values', () => {
    let error: unknown;
    try {
      loadConfig(spec, {
        DATABASE_URL: 'mysql://user:hunter2@h/db',
        ACAI_HTTP_PORT: 'eighty',
        ACAI_LOG_LEVEL: 'loud',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('ACAI_HTTP_PORT');
    expect(message).toContain("'eighty'");
    expect(message).toContain('ACAI_LOG_LEVEL');
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2');
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('says what to do when a required variable is missing', () => {
    expect(() => loadConfig(spec, {})).toThrow(/DATABASE_URL .*required/);
  });
});
