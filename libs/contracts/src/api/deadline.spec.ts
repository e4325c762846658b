import { describe, expect, it } from '@jest/globals';
import { parseOrThrow } from '../validation.js';
import { deadlineAt, parseDeadline } from './deadline.js';
import { RunSpecSchema } from './run-spec.js';

const SUBMITTED = new Date('2026-12-04T12:00:00.000Z');

describe('a run’s deadline', () => {
  it.each([
    ['45m', 2700],
    ['1h30m', 5400],
    ['2d', 172800],
    ['90s', 90],
    ['1.5h', 5400],
    ['PT45M', 2700],
    ['PT1H30M', 5400],
    ['P1DT2H', 93600],
    ['PT0.5S', 0.5],
    ['2700', 2700],
    [2700, 2700],
  ] as const)('reads %p as %d seconds from submission', (text, seconds) => {
    expect(parseDeadline(text)).toEqual({ kind: 'after', seconds });
  });

  it('reads an ISO date-time with its zone as that instant', () => {
    expect(parseDeadline('2026-12-04T19:00:00+01:00')).toEqual({
      kind: 'at',
      at: new Date('2026-12-04T18:00:00.000Z'),
    });
    expect(deadlineAt({ kind: 'after', seconds: 60 }, SUBMITTED).toISOString()).toBe(
      '2026-12-04T12:01:00.000Z',
    );
  });

  it.each(['tomorrow', '', 'P', 'PT', '2026-12-04', '2026-12-04T18:00:00', 'P1Y', '45 m', '1m2h'])(
    'refuses %p, saying what a deadline is',
    (text) => {
      expect(parseDeadline(text)).toEqual(expect.stringContaining('is not a deadline'));
    },
  );

  it('refuses a duration of nothing or of more than a year', () => {
    expect(parseDeadline(0)).toContain('more than 0 seconds');
    expect(parseDeadline('PT0S')).toContain('more than 0 seconds');
    expect(parseDeadline('400d')).toContain('at most a year');
  });

  it('is refused in a run spec with a 400 naming the field', () => {
    let error: unknown;
    try {
      parseOrThrow(
        RunSpecSchema,
        {
          name: 'r',
          steps: [{ name: 'a', command: ['true'] }],
          deadline: 'tomorrow',
          budget: -1,
        },
        'run spec',
      );
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: expect.arrayContaining([
        expect.objectContaining({ path: 'deadline' }),
        expect.objectContaining({
          path: 'budget',
          message: 'budget must be more than 0 US dollars',
        }),
      ]),
    });
  });
});
