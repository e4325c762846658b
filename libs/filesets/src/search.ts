import { AcaiError, FilesetProblems, type ErrorDetail } from '@acai/contracts';

export type MetaOp = 'eq' | 'gt' | 'gte' | 'lt' | 'lte' | 'exists' | 'contains';

export interface MetaPredicate {
  /** Path into the metadata, e.g. ['metrics', 'accuracy'] for `meta.metrics.accuracy`. */
  readonly path: readonly string[];
  readonly op: MetaOp;
  readonly value: unknown;
}

export type SortOrder = 'created' | '-created' | 'name';

/** A search over file sets or versions, parsed from a query string. Pure data. */
export interface Search {
  readonly prefix: string | null;
  readonly allLabels: readonly string[];
  readonly anyLabels: readonly string[];
  readonly meta: readonly MetaPredicate[];
  readonly createdAfter: string | null;
  readonly createdBefore: string | null;
  readonly creatorJob: string | null;
  readonly creatorRun: string | null;
  /** Versions only: keep each file set's newest version. */
  readonly latest: boolean;
  readonly sort: SortOrder;
  readonly limit: number;
  readonly cursor: string | null;
}

export type RawQuery = Readonly<Record<string, string | readonly string[] | undefined>>;

const META_KEY =
  /^meta\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)(?:\[(eq|gt|gte|lt|lte|exists|contains)\])?$/;
const KNOWN = new Set([
  'prefix',
  'name',
  'fileset',
  'label',
  'anyLabel',
  'createdAfter',
  'createdBefore',
  'creatorJob',
  'creatorRun',
  'latest',
  'sort',
  'limit',
  'cursor',
]);

/**
 * Reads a search from query parameters:
 * `prefix=<name prefix>` (or `name=`, `fileset=`), `label=a&label=b` (all of), `anyLabel=a&anyLabel=b` (any of),
 * `meta.<path>=<value>` (equals; the value is read as JSON when it is JSON, else as a string),
 * `meta.<path>[gt|gte|lt|lte]=<number>`, `meta.<path>[exists]=true|false`,
 * `meta.<path>[contains]=<value>` (an array that contains it), `createdAfter` / `createdBefore`
 * (ISO times), `creatorJob`, `creatorRun`, `latest=true`, `sort=created|-created|name`, `limit`,
 * `cursor`. Anything else is a VALIDATION_FAILED naming the parameter.
 */
export function parseSearch(
  query: RawQuery,
  defaults: { sort: SortOrder; maxLimit: number },
): Search {
  const details: ErrorDetail[] = [];
  const one = (key: string): string | null => {
    const v = query[key];
    if (v === undefined) return null;
    if (typeof v === 'string') return v;
    details.push({ path: key, message: 'give it once' });
    return null;
  };
  const many = (key: string): string[] => {
    const v = query[key];
    return v === undefined ? [] : typeof v === 'string' ? [v] : [...v];
  };
  const meta: MetaPredicate[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const match = META_KEY.exec(key);
    if (match === null) {
      if (!KNOWN.has(key)) details.push({ path: key, message: 'unknown search parameter' });
      continue;
    }
    const path = match[1]!.split('.');
    const op = (match[2] ?? 'eq') as MetaOp;
    for (const text of typeof raw === 'string' ? [raw] : raw) {
      const predicate = metaPredicate(path, op, text);
      if (typeof predicate === 'string') details.push({ path: key, message: predicate });
      else meta.push(predicate);
    }
  }
  const time = (key: string): string | null => {
    const v = one(key);
    if (v === null) return null;
    const t = Date.parse(v);
    if (Number.isNaN(t)) {
      details.push({ path: key, message: 'expected an ISO time such as 2026-01-31T12:00:00Z' });
      return null;
    }
    return new Date(t).toISOString();
  };
  const sortText = one('sort') ?? defaults.sort;
  if (sortText !== 'created' && sortText !== '-created' && sortText !== 'name') {
    details.push({ path: 'sort', message: 'expected created, -created or name' });
  }
  const limitText = one('limit');
  const limit = limitText === null ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > defaults.maxLimit) {
    details.push({
      path: 'limit',
      message: `expected a whole number from 1 to ${defaults.maxLimit}`,
    });
  }
  const latestText = one('latest');
  if (latestText !== null && latestText !== 'true' && latestText !== 'false') {
    details.push({ path: 'latest', message: 'expected true or false' });
  }
  const search: Search = {
    prefix: one('prefix') ?? one('name') ?? one('fileset'),
    allLabels: many('label'),
    anyLabels: many('anyLabel'),
    meta,
    createdAfter: time('createdAfter'),
    createdBefore: time('createdBefore'),
    creatorJob: one('creatorJob'),
    creatorRun: one('creatorRun'),
    latest: latestText === 'true',
    sort: sortText as SortOrder,
    limit,
    cursor: one('cursor'),
  };
  if (details.length > 0) {
    const first = details[0]!;
    throw new AcaiError(
      FilesetProblems.SEARCH_INVALID,
      `Invalid search: ${first.path}: ${first.message}`,
      details,
    );
  }
  return search;
}

function metaPredicate(path: string[], op: MetaOp, text: string): MetaPredicate | string {
  switch (op) {
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = Number(text);
      return text.trim() === '' || !Number.isFinite(n)
        ? 'expected a number'
        : { path, op, value: n };
    }
    case 'exists':
      return text === 'true' || text === 'false'
        ? { path, op, value: text === 'true' }
        : 'expected true or false';
    case 'eq':
    case 'contains':
      return { path, op, value: jsonOrString(text) };
    default: {
      const _exhaustive: never = op;
      return _exhaustive;
    }
  }
}

/** `0.9` → 0.9, `true` → true, `"x"` → "x", `mnist` → "mnist". */
function jsonOrString(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `{ a: { b: value } }` for path ['a', 'b']: the shape `@>` matches. */
export function nest(path: readonly string[], value: unknown): unknown {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}

/**
 * Numeric leaves of metadata as `path → number` (objects only, not inside arrays), e.g.
 * `{ metrics: { accuracy: 0.97 } }` → `[['metrics.accuracy', 0.97]]`: what range searches use.
 */
export function numericLeaves(metadata: unknown, prefix = ''): [string, number][] {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return [];
  const out: [string, number][] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'number' && Number.isFinite(value)) out.push([path, value]);
    else out.push(...numericLeaves(value, path));
  }
  return out;
}
