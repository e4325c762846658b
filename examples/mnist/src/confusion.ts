// Classification scores from a confusion matrix: confusion[t][p] counts the examples of true
// class t predicted as p, so the diagonal holds the hits, a row a class's examples, a column a
// class's predictions.

export type Confusion = number[][];

export interface ClassScore {
  readonly class: number;
  /** Of the examples predicted as this class, the share that are: TP / (TP + FP); 0 if none. */
  readonly precision: number;
  /** Of this class's examples, the share predicted right: TP / (TP + FN); 0 if none. */
  readonly recall: number;
  /** How many examples of this class there are. */
  readonly support: number;
}

export function confusionMatrix(
  truth: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): Confusion {
  if (truth.length !== predicted.length)
    throw new Error(`${truth.length} labels but ${predicted.length} predictions`);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let n = 0; n < truth.length; n++) {
    const t = truth[n]!;
    const p = predicted[n]!;
    const row = confusion[t];
    if (row === undefined || !Number.isInteger(t) || !Number.isInteger(p) || p < 0 || p >= classes)
      throw new Error(`example ${n}: class ${t} predicted as ${p}, outside 0..${classes - 1}`);
    row[p]!++;
  }
  return confusion;
}

export function accuracy(confusion: Confusion): number {
  let hits = 0;
  let total = 0;
  confusion.forEach((row, t) => {
    hits += row[t]!;
    total += sum(row);
  });
  return total === 0 ? 0 : hits / total;
}

export function classScores(confusion: Confusion): ClassScore[] {
  return confusion.map((row, c) => {
    const hits = row[c]!;
    const predictedAs = sum(confusion.map((r) => r[c]!));
    const support = sum(row);
    return {
      class: c,
      precision: predictedAs === 0 ? 0 : hits / predictedAs,
      recall: support === 0 ? 0 : hits / support,
      support,
    };
  });
}

/** A table for a log: rows are true classes, columns predictions, with each row's recall. */
export function formatConfusion(confusion: Confusion): string {
  const width = Math.max(7, ...confusion.flat().map((n) => String(n).length + 1));
  const cell = (text: string | number): string => String(text).padStart(width);
  const header = `true\\pred ${confusion.map((_, c) => cell(c)).join('')}   recall`;
  const scores = classScores(confusion);
  const lines = confusion.map(
    (row, t) =>
      `${String(t).padStart(9)} ${row.map(cell).join('')}  ${percent(scores[t]!.recall).padStart(7)}`,
  );
  const precision = `precision ${scores.map((s) => cell(percent(s.precision, 1))).join('')}`;
  return [header, ...lines, precision].join('\n');
}

export function percent(share: number, digits = 2): string {
  return `${(share * 100).toFixed(digits)}%`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
