/**
 * How durations, money and ratios read in plan reasons: short, and never so rounded that a value
 * that misses a limit prints the same as the limit.
 */

/**
 * `42 s`, `4.2 min`, `3.1 h`: seconds below 2 minutes, minutes below 2 hours, then hours.
 * `extraDigits` adds decimals, for telling two close values apart.
 */
export function formatSeconds(seconds: number, extraDigits = 0): string {
  if (seconds < 10) return `${trim(seconds.toFixed(1 + extraDigits))} s`;
  if (seconds < 120) return `${trim(seconds.toFixed(extraDigits))} s`;
  if (seconds < 7200) return `${trim((seconds / 60).toFixed(1 + extraDigits))} min`;
  return `${trim((seconds / 3600).toFixed(1 + extraDigits))} h`;
}

/**
 * `$12.35`, `$0.412`, `$0.0123`, `$0.000028`: cents above a dollar, three significant digits below
 * (at least two decimals), so a job costing a fraction of a cent still shows what it costs.
 */
export function formatDollars(usd: number, extraDigits = 0): string {
  if (usd >= 1) return `$${usd.toFixed(2 + extraDigits)}`;
  if (usd === 0) return '$0.00';
  let text = trim(usd.toPrecision(3 + extraDigits));
  // toPrecision can switch to exponent notation for very small values: fall back to fixed.
  if (text.includes('e')) text = trim(usd.toFixed(8 + extraDigits));
  const decimals = text.split('.')[1]?.length ?? 0;
  return `$${decimals < 2 ? usd.toFixed(2) : text}`;
}

/** `3.1×`, `12×`: how many times one quantity is another. */
export function formatRatio(ratio: number): string {
  return ratio < 9.95 ? `${trim(ratio.toFixed(1))}×` : `${Math.round(ratio)}×`;
}

/**
 * By how much `value` exceeds `limit`, named: `44% over the deadline`, `2.5% over the budget`, and
 * past double, `3.1× the budget` (a "4597% over" reads worse than "47×").
 */
export function formatExcess(value: number, limit: number, what: string): string {
  const ratio = value / limit;
  if (ratio >= 2) return `${formatRatio(ratio)} ${what}`;
  const percent = (ratio - 1) * 100;
  return `${percent >= 10 ? Math.round(percent) : trim(percent.toPrecision(2))}% over ${what}`;
}

/**
 * Formats a value and the limit it is compared with, adding digits (up to 4) until the two read
 * differently, so "412 s exceeds 300 s" never becomes "5 min exceeds 5 min".
 */
export function formatAgainst(
  value: number,
  limit: number,
  format: (v: number, extraDigits: number) => string,
): [string, string] {
  for (let extra = 0; extra < 4; extra++) {
    const a = format(value, extra);
    const b = format(limit, extra);
    if (a !== b) return [a, b];
  }
  return [format(value, 4), format(limit, 4)];
}

/** Drops trailing zeros after a decimal point: `4.20` → `4.2`, `5.0` → `5`. */
function trim(text: string): string {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}
