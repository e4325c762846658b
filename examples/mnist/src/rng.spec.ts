import { describe, expect, it } from '@jest/globals';
import { Rng } from './rng.js';

const draw = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    expect(draw(new Rng(42), 5)).toEqual(draw(new Rng(42), 5));
    expect(draw(new Rng(42), 5)).not.toEqual(draw(new Rng(43), 5));
  });

  it('continues the same sequence from a saved state', () => {
    const rng = new Rng(7);
    draw(rng, 100);
    const state = rng.state;
    const expected = draw(rng, 10);
    expect(draw(Rng.restore(state), 10)).toEqual(expected);
    expect(Number.isInteger(state) && state >= 0 && state < 2 ** 32).toBe(true);
  });

  it('draws uniform numbers in [0, 1)', () => {
    const values = draw(new Rng(1), 20_000);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const buckets = new Array<number>(10).fill(0);
    for (const v of values) buckets[Math.floor(v * 10)]!++;
    expect(Math.min(...buckets)).toBeGreaterThan(1800);
  });

  it('draws standard normal numbers', () => {
    const rng = new Rng(3);
    const values = Array.from({ length: 20_000 }, () => rng.normal());
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(values.every(Number.isFinite)).toBe(true);
  });

  it('shuffles into a permutation, reproducibly', () => {
    const a = Int32Array.from({ length: 1000 }, (_, i) => i);
    new Rng(9).shuffle(a);
    const b = Int32Array.from({ length: 1000 }, (_, i) => i);
    new Rng(9).shuffle(b);
    expect(a).toEqual(b);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const fixed = a.filter((v, i) => v === i).length;
    expect(fixed).toBeLessThan(10); // about 1 expected for a random permutation
  });

  it('refuses a seed that is not a whole number', () => {
    expect(() => new Rng(1.5)).toThrow(/whole number/);
  });
});
