import { describe, expect, it } from '@jest/globals';
import { accuracy, classScores, confusionMatrix, formatConfusion } from './confusion.js';

// Three classes. Truth 0 0 0 0 1 1 1 2 2 2, predictions 0 0 0 1 1 1 2 2 2 0.
const truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
const predicted = [0, 0, 0, 1, 1, 1, 2, 2, 2, 0];

describe('confusionMatrix', () => {
  it('counts true classes in rows and predictions in columns', () => {
    expect(confusionMatrix(truth, predicted, 3)).toEqual([
      [3, 1, 0],
      [0, 2, 1],
      [1, 0, 2],
    ]);
  });

  it('refuses labels and predictions of different lengths', () => {
    expect(() => confusionMatrix([0, 1], [0], 3)).toThrow(/2 labels but 1 predictions/);
  });

  it('refuses a class outside the range, naming the example', () => {
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/example 1: class 3/);
    expect(() => confusionMatrix([0, 1], [0, -1], 3)).toThrow(/example 1/);
  });
});

describe('scores', () => {
  const confusion = confusionMatrix(truth, predicted, 3);

  it('accuracy is the diagonal over the total', () => {
    expect(accuracy(confusion)).toBeCloseTo(7 / 10, 12);
    expect(accuracy([[0]])).toBe(0);
  });

  it('precision divides by the column, recall by the row', () => {
    const scores = classScores(confusion);
    expect(scores.map((s) => s.class)).toEqual([0, 1, 2]);
    expect(scores[0]!.precision).toBeCloseTo(3 / 4, 12); // predicted 0: three right, one a 2
    expect(scores[0]!.recall).toBeCloseTo(3 / 4, 12); // four 0s, three found
    expect(scores[1]!.precision).toBeCloseTo(2 / 3, 12);
    expect(scores[1]!.recall).toBeCloseTo(2 / 3, 12);
    expect(scores[2]!.precision).toBeCloseTo(2 / 3, 12);
    expect(scores[2]!.recall).toBeCloseTo(2 / 3, 12);
    expect(scores.map((s) => s.support)).toEqual([4, 3, 3]);
  });

  it('tells precision from recall when they differ', () => {
    // Everything predicted as class 0: class 0 has recall 1 but precision 1/2.
    const scores = classScores(confusionMatrix([0, 0, 1, 1], [0, 0, 0, 0], 2));
    expect(scores[0]).toEqual({ class: 0, precision: 0.5, recall: 1, support: 2 });
    // Never predicted, never right: 0 rather than a division by zero.
    expect(scores[1]).toEqual({ class: 1, precision: 0, recall: 0, support: 2 });
  });

  it('formats a table with a row per true class and the recall of each', () => {
    const lines = formatConfusion(confusion).split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/^\s+0\s+3\s+1\s+0\s+75\.00%$/);
    expect(lines[4]).toMatch(/^precision\s+75\.0%\s+66\.7%\s+66\.7%$/);
  });
});
