// The table: daily weather in Seattle and New York, 2012-2015 (vega-datasets' weather.csv), parsed,
// cleaned and split into train and test rows.
import { Rng } from './rng.js';

export const WEATHER_COLUMNS = [
  'location',
  'date',
  'precipitation',
  'temp_max',
  'temp_min',
  'wind',
  'weather',
] as const;

/** One day at one place, as the CSV has it (°C, mm, m/s). */
export interface WeatherRow {
  readonly location: string;
  readonly date: string;
  readonly precipitation: number;
  readonly tempMax: number;
  readonly tempMin: number;
  readonly wind: number;
  readonly weather: string;
}

/** A row with what `clean` derives from its date. */
export interface CleanRow extends WeatherRow {
  readonly year: number;
  readonly month: number;
  readonly dayOfYear: number;
}

export class TableError extends Error {
  override readonly name = 'TableError';
}

/** Parses weather.csv: the header must be exactly WEATHER_COLUMNS; numbers must be numbers. */
export function parseWeatherCsv(text: string): WeatherRow[] {
  const lines = text.split(/\r?\n/).filter((line) => line !== '');
  const header = lines[0]?.split(',');
  if (header?.join(',') !== WEATHER_COLUMNS.join(','))
    throw new TableError(
      `the header is '${lines[0] ?? ''}', expected '${WEATHER_COLUMNS.join(',')}'`,
    );
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== WEATHER_COLUMNS.length)
      throw new TableError(
        `line ${i + 2} has ${cells.length} cells, expected ${WEATHER_COLUMNS.length}`,
      );
    const [location, date, precipitation, tempMax, tempMin, wind, weather] = cells as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // Empty or not a number: NaN, which `cleanRows` drops.
    const number = (value: string): number => (value.trim() === '' ? Number.NaN : Number(value));
    return {
      location,
      date,
      precipitation: number(precipitation),
      tempMax: number(tempMax),
      tempMin: number(tempMin),
      wind: number(wind),
      weather,
    };
  });
}

/** The day of the year of an ISO date (1 January is 1), or NaN when it is not a date. */
export function dayOfYear(date: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (match === null) return Number.NaN;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const time = Date.UTC(year, month - 1, day);
  const check = new Date(time);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return Number.NaN;
  return Math.round((time - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
}

export interface CleanOptions {
  /** Rows with more precipitation than this (mm) are taken as sensor errors and dropped. */
  readonly maxPrecipitation: number;
}

/**
 * Drops rows with a missing or impossible value (no date, a number that is not one, the minimum
 * above the maximum, negative wind or rain, rain above `maxPrecipitation`) and adds year, month
 * and day of year. Returns the rows kept and why the others were dropped.
 */
export function cleanRows(
  rows: readonly WeatherRow[],
  options: CleanOptions,
): { rows: CleanRow[]; dropped: Record<string, number> } {
  const kept: CleanRow[] = [];
  const dropped: Record<string, number> = {};
  const drop = (why: string): void => {
    dropped[why] = (dropped[why] ?? 0) + 1;
  };
  for (const row of rows) {
    const doy = dayOfYear(row.date);
    if (Number.isNaN(doy)) drop('bad date');
    else if ([row.precipitation, row.tempMax, row.tempMin, row.wind].some(Number.isNaN))
      drop('missing number');
    else if (row.tempMin > row.tempMax) drop('temp_min above temp_max');
    else if (row.wind < 0 || row.precipitation < 0) drop('negative wind or precipitation');
    else if (row.precipitation > options.maxPrecipitation) drop('precipitation above the maximum');
    else
      kept.push({
        ...row,
        year: Number(row.date.slice(0, 4)),
        month: Number(row.date.slice(5, 7)),
        dayOfYear: doy,
      });
  }
  return { rows: kept, dropped };
}

/** A seeded shuffle split: the same rows, fraction and seed always give the same split. */
export function splitRows<T>(
  rows: readonly T[],
  testFraction: number,
  seed: number,
): { train: T[]; test: T[] } {
  if (!(testFraction > 0 && testFraction < 1))
    throw new TableError(`the test fraction must be between 0 and 1, got ${testFraction}`);
  const order = rows.map((_, i) => i);
  new Rng(seed).shuffle(order);
  const testCount = Math.round(rows.length * testFraction);
  const pick = (indices: number[]): T[] => indices.map((i) => rows[i] as T);
  return { train: pick(order.slice(testCount)), test: pick(order.slice(0, testCount)) };
}
