import { describe, expect, it } from '@jest/globals';
import { buildDesign, monomials } from './design.js';
import { cleanRows, dayOfYear, parseWeatherCsv, splitRows, TableError } from './weather.js';

const CSV = [
  'location,date,precipitation,temp_max,temp_min,wind,weather',
  'Seattle,2012-01-01,0.0,12.8,5.0,4.7,drizzle',
  'Seattle,2012-02-30,0.0,12.8,5.0,4.7,sun',
  'New York,2012-07-04,1.5,31.1,22.2,2.0,sun',
  'New York,2012-07-05,,30.0,21.0,2.0,sun',
  'New York,2012-07-06,0,20.0,25.0,2.0,fog',
  'Seattle,2012-12-31,3.0,7.0,2.0,6.0,rain',
].join('\n');

describe('the weather table', () => {
  it('parses rows, refusing another header', () => {
    const rows = parseWeatherCsv(CSV);
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({
      location: 'Seattle',
      date: '2012-01-01',
      precipitation: 0,
      tempMax: 12.8,
      tempMin: 5,
      wind: 4.7,
      weather: 'drizzle',
    });
    expect(() => parseWeatherCsv('a,b\n1,2')).toThrow(TableError);
  });

  it('drops impossible rows and says why', () => {
    const { rows, dropped } = cleanRows(parseWeatherCsv(CSV), { maxPrecipitation: 200 });
    expect(rows.map((r) => r.date)).toEqual(['2012-01-01', '2012-07-04', '2012-12-31']);
    expect(dropped).toEqual({
      'bad date': 1,
      'missing number': 1,
      'temp_min above temp_max': 1,
    });
    expect(dayOfYear('2012-12-31')).toBe(366);
  });

  it('splits the same way for the same seed', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const a = splitRows(items, 0.2, 1);
    expect(a.test).toHaveLength(20);
    expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual(items);
    expect(splitRows(items, 0.2, 1)).toEqual(a);
    expect(splitRows(items, 0.2, 2)).not.toEqual(a);
  });
});

describe('features', () => {
  const { rows } = cleanRows(parseWeatherCsv(CSV), { maxPrecipitation: 200 });

  it('counts the monomials of each degree', () => {
    expect(monomials(6, 1)).toHaveLength(6);
    expect(monomials(6, 2)).toHaveLength(21);
    expect(monomials(6, 3)).toHaveLength(56);
  });

  it('builds each feature set with as many columns as names', () => {
    for (const set of ['standard', 'onehot', 'poly'] as const) {
      const design = buildDesign(rows, rows, { set, degree: 2, warm: 20 });
      expect(design.train.cols).toBe(design.names.length);
      expect(design.train.data).toHaveLength(rows.length * design.names.length);
      expect(design.trainLabel).toEqual([0, 1, 0]);
    }
    expect(buildDesign(rows, rows, { set: 'poly', degree: 2, warm: 20 }).names).toHaveLength(34);
  });
});
