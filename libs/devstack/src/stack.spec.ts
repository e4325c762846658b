import { describe, expect, it } from '@jest/globals';
import { runsJobsAsDeveloper } from './stack.js';

describe('the launcher and the job sandbox', () => {
  it('runs jobs as the developer only when it is not root and nobody chose a sandbox', () => {
    expect(runsJobsAsDeveloper(1000, {})).toBe(true);
    expect(runsJobsAsDeveloper(0, {})).toBe(false);
    expect(runsJobsAsDeveloper(1000, { ACAI_SANDBOX: 'uid' })).toBe(false);
    expect(runsJobsAsDeveloper(1000, { ACAI_SANDBOX: 'none' })).toBe(false);
  });
});
