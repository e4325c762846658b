import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '@acai/platform';
import { catalogConfig } from './config.js';

describe('the catalog’s configuration', () => {
  it('sweeps hourly with a day’s grace, and sets no quota, by default', () => {
    expect(loadConfig(catalogConfig, {})).toMatchObject({
      ACAI_UPLOAD_GRACE_SECONDS: 86_400,
      ACAI_UPLOAD_GC_INTERVAL_SECONDS: 3600,
      ACAI_PROJECT_QUOTA_BYTES: 0,
    });
    expect(
      loadConfig(catalogConfig, {
        ACAI_UPLOAD_GRACE_SECONDS: '0',
        ACAI_PROJECT_QUOTA_BYTES: '1e9',
      }),
    ).toMatchObject({ ACAI_UPLOAD_GRACE_SECONDS: 0, ACAI_PROJECT_QUOTA_BYTES: 1e9 });
  });

  it.each([
    ['ACAI_UPLOAD_GRACE_SECONDS', '-1', 'expected a number of seconds, 0 or more'],
    ['ACAI_UPLOAD_GRACE_SECONDS', '1.5', 'expected a whole number of seconds'],
    ['ACAI_UPLOAD_GC_INTERVAL_SECONDS', '0', 'expected 1 second or more'],
    ['ACAI_UPLOAD_GC_INTERVAL_SECONDS', '3000000', 'expected at most 2147483 seconds'],
    ['ACAI_PROJECT_QUOTA_BYTES', 'ten gigs', 'expected a number of bytes, 0 or more'],
    ['ACAI_PROJECT_QUOTA_BYTES', '-5', 'expected a number of bytes, 0 or more'],
  ])('names %s when it is %s', (name, value, expected) => {
    expect(() => loadConfig(catalogConfig, { [name]: value })).toThrow(
      new RegExp(`${name} \\(.*\\): .*${expected}.*; it is '${value}'`),
    );
  });
});
