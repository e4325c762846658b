import { describe, expect, it } from '@jest/globals';
import {
  formatAgainst,
  formatDollars,
  formatExcess,
  formatRatio,
  formatSeconds,
} from './format.js';

describe('formatSeconds', () => {
  it('reads in seconds, minutes or hours as the size calls for', () => {
    expect(formatSeconds(4.24)).toBe('4.2 s');
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(252)).toBe('4.2 min');
    expect(formatSeconds(600)).toBe('10 min');
    expect(formatSeconds(11_160)).toBe('3.1 h');
  });
});

describe('formatDollars', () => {
  it('shows cents above a dollar and three significant digits below', () => {
    expect(formatDollars(12.345)).toBe('$12.35');
    expect(formatDollars(0.4123)).toBe('$0.412');
    expect(formatDollars(0.0123)).toBe('$0.0123');
    expect(formatDollars(0.01)).toBe('$0.01');
    expect(formatDollars(0.5)).toBe('$0.50');
    expect(formatDollars(0.000028)).toBe('$0.000028');
    expect(formatDollars(0)).toBe('$0.00');
  });
});

describe('formatRatio and formatExcess', () => {
  it('say how much more', () => {
    expect(formatRatio(3.14)).toBe('3.1×');
    expect(formatRatio(12.4)).toBe('12×');
    expect(formatExcess(144, 100, 'the deadline')).toBe('44% over the deadline');
    expect(formatExcess(1.025, 1, 'the budget')).toBe('2.5% over the budget');
    expect(formatExcess(47, 1, 'the budget')).toBe('47× the budget');
  });
});

describe('formatAgainst', () => {
  it('adds digits until a value and its limit read differently', () => {
    expect(formatAgainst(412, 300, formatSeconds)).toEqual(['6.9 min', '5 min']);
    expect(formatAgainst(302, 300, formatSeconds)).toEqual(['5.03 min', '5 min']);
    expect(formatAgainst(0.01004, 0.01, formatDollars)).toEqual(['$0.01004', '$0.01']);
  });
});
