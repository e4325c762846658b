/**
 * The little linear algebra the provisioner needs: dense systems of a handful of unknowns (one per
 * model feature), so plain Gaussian elimination is exact enough and allocation-light.
 */

/** A dense square matrix, row-major: `a[row][column]`. */
export type Matrix = number[][];

/**
 * Solves `a · x = b` by Gaussian elimination with partial pivoting (the row with the largest pivot
 * is swapped up at each step, which keeps rounding errors from growing on badly scaled systems).
 * Returns `undefined` when the matrix is singular to working precision: a pivot below
 * `1e-12 × the largest entry` means a column is a combination of the others. Inputs are untouched.
 */
export function solveLinear(
  a: readonly (readonly number[])[],
  b: readonly number[],
): number[] | undefined {
  const n = b.length;
  if (a.length !== n) throw new Error(`solveLinear: ${a.length} rows for ${n} right-hand sides`);
  // Augmented copy, so the caller's matrix stays as it was.
  const m: Matrix = a.map((row, i) => {
    if (row.length !== n)
      throw new Error(`solveLinear: row ${i} has ${row.length} columns, not ${n}`);
    return [...row, at(b, i)];
  });
  let scale = 0;
  for (const row of m) for (let j = 0; j < n; j++) scale = Math.max(scale, Math.abs(at(row, j)));
  if (scale === 0) return n === 0 ? [] : undefined;
  const tiny = scale * 1e-12;

  for (let col = 0; col < n; col++) {
    let pivotRow = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(at(rowOf(m, r), col)) > Math.abs(at(rowOf(m, pivotRow), col))) pivotRow = r;
    }
    const pivot = rowOf(m, pivotRow);
    const p = at(pivot, col);
    if (Math.abs(p) < tiny) return undefined;
    if (pivotRow !== col) {
      m[pivotRow] = rowOf(m, col);
      m[col] = pivot;
    }
    for (let r = col + 1; r < n; r++) {
      const row = rowOf(m, r);
      const factor = at(row, col) / p;
      if (factor === 0) continue;
      for (let c = col; c <= n; c++) row[c] = at(row, c) - factor * at(pivot, c);
    }
  }

  const x: number[] = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    const row = rowOf(m, r);
    let sum = at(row, n);
    for (let c = r + 1; c < n; c++) sum -= at(row, c) * at(x, c);
    x[r] = sum / at(row, r);
  }
  return x;
}

/**
 * Weighted least squares with an optional ridge term, by the normal equations:
 * minimises `Σ wᵢ (xᵢ·β − yᵢ)² + Σ_j ridgeⱼ βⱼ²`. `ridge` is per column so callers can leave an
 * intercept unpenalised. Returns `undefined` when the system is singular (only possible with no
 * ridge on some column).
 */
export function leastSquares(
  rows: readonly (readonly number[])[],
  y: readonly number[],
  options: { weights?: readonly number[]; ridge?: readonly number[] } = {},
): number[] | undefined {
  const first = rows[0];
  if (first === undefined) return undefined;
  const k = first.length;
  const xtx: Matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const xty: number[] = new Array<number>(k).fill(0);
  rows.forEach((row, i) => {
    const w = options.weights === undefined ? 1 : at(options.weights, i);
    const yi = at(y, i);
    for (let a = 0; a < k; a++) {
      const xa = at(row, a);
      xty[a] = at(xty, a) + w * xa * yi;
      const line = rowOf(xtx, a);
      for (let b = 0; b < k; b++) line[b] = at(line, b) + w * xa * at(row, b);
    }
  });
  if (options.ridge !== undefined) {
    for (let j = 0; j < k; j++) {
      const line = rowOf(xtx, j);
      line[j] = at(line, j) + at(options.ridge, j);
    }
  }
  return solveLinear(xtx, xty);
}

/** `values[i]`, checked: the callers index within bounds they computed, so a miss is a bug. */
export function at(values: readonly number[], i: number): number {
  const v = values[i];
  if (v === undefined) throw new Error(`index ${i} out of bounds (length ${values.length})`);
  return v;
}

function rowOf(m: Matrix, i: number): number[] {
  const row = m[i];
  if (row === undefined) throw new Error(`row ${i} out of bounds (${m.length} rows)`);
  return row;
}
