import { describe, expect, it } from '@jest/globals';
import { leastSquares, solveLinear } from './linear.js';

describe('solveLinear', () => {
  it('solves a system that needs a row swap (zero on the diagonal)', () => {
    const x = solveLinear(
      [
        [0, 2, 1],
        [1, 1, 1],
        [2, 1, 0],
      ],
      [5, 4, 4],
    );

    expect(x?.map((v) => Number(v.toFixed(12)))).toEqual([1, 2, 1]);
  });

  it('stays accurate where elimination without pivoting loses everything', () => {
    // Without pivoting, 1e-20 becomes the pivot and x₂ is lost to rounding.
    const x = solveLinear(
      [
        [1e-20, 1],
        [1, 1],
      ],
      [1, 2],
    );

    expect(x?.[0]).toBeCloseTo(1, 12);
    expect(x?.[1]).toBeCloseTo(1, 12);
  });

  it('reports a singular system instead of returning noise', () => {
    expect(
      solveLinear(
        [
          [1, 2],
          [2, 4],
        ],
        [3, 6],
      ),
    ).toBeUndefined();
  });

  it('leaves its inputs as they were', () => {
    const a = [
      [0, 1],
      [1, 0],
    ];
    const b = [2, 3];
    solveLinear(a, b);

    expect(a).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(b).toEqual([2, 3]);
  });
});

describe('leastSquares', () => {
  it('fits a line through noisy-free points exactly', () => {
    const rows = [0, 1, 2, 3].map((x) => [1, x]);

    const beta = leastSquares(rows, [1, 3, 5, 7]);

    expect(beta?.[0]).toBeCloseTo(1, 10);
    expect(beta?.[1]).toBeCloseTo(2, 10);
  });

  it('makes a rank-deficient problem solvable with a ridge term', () => {
    const rows = [
      [1, 1],
      [2, 2],
    ];

    expect(leastSquares(rows, [2, 4])).toBeUndefined();
    const beta = leastSquares(rows, [2, 4], { ridge: [1e-9, 1e-9] });
    // The smallest-norm split of the effect: half each.
    expect(beta?.[0]).toBeCloseTo(1, 6);
    expect(beta?.[1]).toBeCloseTo(1, 6);
  });
});
