import { describe, expect, it } from '@jest/globals';
import { BlobProblems } from '@acai/contracts';
import { availableBytes, overQuotaCutOff, quotaOf, quotaRefusal } from './quota.js';

const alpha = (usedBytes: number, quotaBytes: number | null) => ({
  project: 'alpha',
  usedBytes,
  quotaBytes,
});

describe('a project’s storage quota', () => {
  it('is the project’s own when set (0: none), else the platform default (0: none)', () => {
    expect(quotaOf(null, 0)).toBeNull();
    expect(quotaOf(null, 1000)).toBe(1000);
    expect(quotaOf(500, 1000)).toBe(500);
    expect(quotaOf(5000, 1000)).toBe(5000);
    expect(quotaOf(0, 1000)).toBeNull();
  });

  it('lets anything in without a quota, and nothing new in adds nothing', () => {
    expect(quotaRefusal(alpha(10 ** 15, null), [10 ** 15])).toBeUndefined();
    expect(quotaRefusal(alpha(2000, 1000), [])).toBeUndefined();
    expect(quotaRefusal(alpha(2000, 1000), [0])).toBeUndefined();
    expect(availableBytes(alpha(10, null))).toBeNull();
  });

  it('lets blobs in up to the quota exactly', () => {
    expect(quotaRefusal(alpha(900, 1000), [60, 40])).toBeUndefined();
    expect(availableBytes(alpha(900, 1000))).toBe(100);
    expect(availableBytes(alpha(1200, 1000))).toBe(0);
  });

  it('refuses an upload larger than the whole quota as too large (413), with the numbers', () => {
    const refused = quotaRefusal(alpha(0, 1000), [1001]);

    expect(refused?.is(BlobProblems.UPLOAD_OVER_QUOTA)).toBe(true);
    expect(refused?.extensions).toEqual({ usedBytes: 0, quotaBytes: 1000, uploadBytes: 1001 });
    expect(refused?.message).toContain('1001 bytes');
    expect(refused?.message).toContain('ask the platform admin');
  });

  it('refuses what would take the project over its quota (507), saying what to do', () => {
    const refused = quotaRefusal(alpha(900, 1000), [150, 50]);

    expect(refused?.is(BlobProblems.STORAGE_QUOTA_EXCEEDED)).toBe(true);
    expect(refused?.extensions).toEqual({ usedBytes: 900, quotaBytes: 1000, uploadBytes: 200 });
    expect(refused?.message).toMatch(/uses 900 of its 1000 bytes.*200 bytes.*1100/);
    expect(refused?.message).toContain('evict');
  });

  it('says an upload cut off at the quota was too large, without a size it does not know', () => {
    const refused = overQuotaCutOff({ project: 'alpha', usedBytes: 5, quotaBytes: 1000 });

    expect(refused.is(BlobProblems.UPLOAD_OVER_QUOTA)).toBe(true);
    expect(refused.extensions).toEqual({ usedBytes: 5, quotaBytes: 1000 });
  });
});
