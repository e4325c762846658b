import { describe, expect, it } from '@jest/globals';
import { newId } from './ids.js';

describe('newId', () => {
  it('has the prefix and 23 lower-case base32 characters, safe in a subject', () => {
    expect(newId('run')).toMatch(/^run-[0-9a-hjkmnp-tv-z]{23}$/);
  });

  it('sorts by creation time, so pages of runs can use it as a cursor', () => {
    const earlier = newId('run', Date.UTC(2026, 0, 1));
    const later = newId('run', Date.UTC(2026, 0, 1) + 1);
    expect(earlier < later).toBe(true);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('job', 0)));
    expect(ids.size).toBe(10_000);
  });
});
