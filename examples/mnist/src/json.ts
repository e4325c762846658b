/**
 * Indented JSON with each list of numbers (a shape, a confusion row) on one line: the output files
 * are meant to be read by eye as well as by programs.
 */
export function readableJson(value: unknown): string {
  const json = JSON.stringify(value, null, 2).replace(
    /\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]/g,
    (_, items: string) => `[${items.split(/,\s+/).join(', ')}]`,
  );
  return `${json}\n`;
}
