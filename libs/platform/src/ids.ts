import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A time-ordered id (48-bit milliseconds + 64 random bits, Crockford base32, lower case), with a
 * prefix saying what it names: `run-01k...`. Ids sort by creation time, so lists page by id.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(8);
  let rand = '';
  let acc = 0n;
  for (const b of bytes) acc = (acc << 8n) | BigInt(b);
  for (let i = 0; i < 13; i++) {
    rand = ALPHABET[Number(acc % 32n)]! + rand;
    acc /= 32n;
  }
  return `${prefix}-${time}${rand}`;
}
