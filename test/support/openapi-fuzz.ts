import fc from 'fast-check';

/**
 * Hostile HTTP requests generated from an OpenAPI document: for each operation, fast-check
 * arbitraries of requests whose path parameters, query, body, content type and size break the
 * document's rules in every way we could think of, and the check every answer must pass. Used by
 * test/e2e/fuzz.e2e-spec.ts.
 */

/** The parts of a JSON Schema (as `z.toJSONSchema` writes them) the generators read. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly propertyNames?: JsonSchema;
  readonly items?: JsonSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
  readonly pattern?: string;
  readonly format?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly $ref?: string;
  readonly $defs?: Readonly<Record<string, JsonSchema>>;
}

export interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required?: boolean;
  readonly schema: JsonSchema;
}

export interface Operation {
  readonly operationId: string;
  readonly description?: string;
  readonly 'x-acai-scope': 'public' | 'read' | 'write' | 'admin' | 'platform';
  readonly parameters: readonly Parameter[];
  readonly requestBody?: { readonly content: Readonly<Record<string, { schema: JsonSchema }>> };
  readonly responses: Readonly<Record<string, unknown>>;
}

export type Document = {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
};

/** One request as it goes on the wire; its description is what a failure report shows. */
export interface HostileRequest {
  /** The kind of hostility, e.g. `path {name}`, `malformed JSON`. */
  readonly what: string;
  readonly method: string;
  /** Path and query, exactly as sent (already percent-encoded where it is meant to be). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Send the body in chunks (`transfer-encoding: chunked`) instead of with a length. */
  readonly chunked?: boolean;
  /** Which key signs it: the admin key of project `default`, or a read-only key of it. */
  readonly key: 'admin' | 'read';
}

/** The sizes the test system is configured with (small, so oversized bodies are cheap). */
export interface Limits {
  /** ACAI_MAX_BODY_BYTES */
  readonly body: number;
  /** ACAI_MAX_COMMIT_BYTES */
  readonly commit: number;
  /** ACAI_MAX_UPLOAD_BYTES */
  readonly upload: number;
}

/** Values of path parameters that name real things of the test system, by route and name. */
export type RealValues = (template: string, param: string) => readonly string[];

const clip = (text: string, max = 160) =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;

/** A request with a short description for fast-check's reports (bodies can be 300 KiB). */
function hostile(request: HostileRequest): HostileRequest {
  return Object.assign(request, {
    [fc.toStringMethod]: () => describeRequest(request),
  });
}

export function describeRequest(r: HostileRequest): string {
  const type = r.headers['content-type'];
  const body =
    r.body === undefined
      ? ''
      : ` body ${r.body.length} bytes${r.chunked === true ? ' chunked' : ''}: ${JSON.stringify(clip(r.body.toString('utf8'), 120))}`;
  const range =
    r.headers['range'] === undefined ? '' : ` range ${JSON.stringify(r.headers['range'])}`;
  return `[${r.what}] ${r.method} ${clip(r.path)} (${r.key} key${type === undefined ? '' : `, content-type ${JSON.stringify(type)}`}${range})${body}`;
}

// ---------------------------------------------------------------------------------------------
// Values from a schema

const MAX_DEPTH = 4;

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (schema.$ref === undefined) return schema;
  if (schema.$ref === '#') return root;
  const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
  const target = name === undefined ? undefined : root.$defs?.[name];
  return target ?? {};
}

function stringFor(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 24, 24));
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  if (schema.pattern !== undefined) {
    try {
      const inBounds = (s: string) =>
        s.length >= minLength && s.length <= (schema.maxLength ?? Infinity);
      return fc.stringMatching(new RegExp(schema.pattern)).filter(inBounds);
    } catch {
      // A pattern fast-check cannot generate from (look-aheads): any string, mostly refused.
    }
  }
  return fc.string({ minLength, maxLength });
}

function numberFor(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min =
    schema.minimum ??
    (schema.exclusiveMinimum === undefined ? -1000 : schema.exclusiveMinimum + (integer ? 1 : 0.5));
  const max =
    schema.maximum ??
    (schema.exclusiveMaximum === undefined
      ? Math.max(min, 0) + 100_000
      : schema.exclusiveMaximum - (integer ? 1 : 0.5));
  if (integer) return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/**
 * Values that follow the schema, more or less: enums, patterns, bounds and required properties
 * are kept; what cannot be generated exactly is approximated (the server is the judge).
 */
export function valueOf(
  schema: JsonSchema,
  root: JsonSchema = schema,
  depth = 0,
): fc.Arbitrary<unknown> {
  const s = resolve(schema, root);
  if (depth > MAX_DEPTH) return fc.constant(null);
  if ('const' in s) return fc.constant(s.const);
  if (s.enum !== undefined && s.enum.length > 0) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives !== undefined && alternatives.length > 0) {
    return fc.oneof(...alternatives.map((a) => valueOf(a, root, depth + 1)));
  }
  if (s.allOf !== undefined && s.allOf[0] !== undefined) return valueOf(s.allOf[0], root, depth);
  if (Array.isArray(s.type)) {
    const types = s.type as readonly string[];
    return fc.oneof(...types.map((type) => valueOf({ ...s, type }, root, depth)));
  }
  switch (s.type) {
    case 'string':
      return stringFor(s);
    case 'integer':
      return numberFor(s, true);
    case 'number':
      return numberFor(s, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const minLength = Math.min(s.minItems ?? 0, 3);
      const maxLength = Math.max(minLength, Math.min(s.maxItems ?? 3, 3));
      return fc.array(valueOf(s.items ?? {}, root, depth + 1), { minLength, maxLength });
    }
    case 'object': {
      const properties = s.properties ?? {};
      const named = fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([k, v]) => [k, valueOf(v, root, depth + 1)]),
        ),
        { requiredKeys: (s.required ?? []).filter((k) => k in properties) },
      );
      if (typeof s.additionalProperties !== 'object') return named;
      const extra = fc.dictionary(
        s.propertyNames === undefined ? fc.string({ maxLength: 12 }) : stringFor(s.propertyNames),
        valueOf(s.additionalProperties, root, depth + 1),
        { maxKeys: 3 },
      );
      return fc.tuple(named, extra).map(([a, b]) => ({ ...b, ...a }));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile values

/**
 * Parts of a JSON text that no JS value serialises to (numbers out of any range, nesting 10,000
 * deep, prototype keys): the value carries a marker string that {@link jsonText} replaces.
 */
const MARK = '\u0001raw:';
const raw = (text: string) => `${MARK}${text}\u0001`;
const MARKER = /"\\u0001raw:((?:[^"\\]|\\.)*?)\\u0001"/g;

function deepArray(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}
function deepObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** The JSON text of a value, with its markers expanded. */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  return text.replace(MARKER, (_, encoded: string) => {
    const spec = JSON.parse(`"${encoded}"`) as string;
    const deep = /^deep-(array|object):(\d+)$/.exec(spec);
    if (deep === null) return spec;
    const depth = Number(deep[2]);
    return deep[1] === 'array' ? deepArray(depth) : deepObject(depth);
  });
}

/** A value of the wrong type or size for wherever it is put. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    0,
    -1,
    -0.5,
    1.5,
    1e308,
    -1e308,
    2 ** 53 + 2,
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '..',
    '../../../../etc/passwd',
    '/etc/passwd',
    '__proto__',
    'constructor',
    '%00',
    '\r\nSet-Cookie: a=b',
    '<script>alert(1)</script>',
    "'; DROP TABLE runs; --",
    '$(id)',
    [],
    {},
    [null],
    { '': null },
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 10_000 }).map((n) => '\u00e9\ud83d\ude00'.repeat(n)),
  fc
    .constantFrom(
      '1e999',
      '-1e999',
      '123456789012345678901234567890',
      '1e-400',
      '-0',
      '0.0000000000000000000000001',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '"\\ud800"',
      '"\\u0000"',
    )
    .map(raw),
  fc
    .constantFrom(10, 100, 1_000, 10_000)
    .chain((depth) =>
      fc.constantFrom(raw(`deep-array:${depth}`), raw(`deep-object:${Math.min(depth, 5_000)}`)),
    ),
  fc.integer({ min: 1_000, max: 6_000 }).map((n) => new Array<number>(n).fill(0)),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Keys no schema names, some of them dangerous to a careless object merge. */
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', ' ', '\u0000', 'a.b'),
  fc.string({ maxLength: 20 }),
);

type Path = readonly (string | number)[];

/** Every place in a JSON value, the value itself first. */
function places(value: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(value)) {
    value.forEach((v, i) => out.push(...places(v, [...at, i])));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push(...places(v, [...at, k]));
  }
  return out;
}

function at(value: unknown, path: Path): unknown {
  let current = value;
  for (const step of path) current = (current as Record<string | number, unknown>)[step];
  return current;
}

type Mutation =
  | { readonly kind: 'replace'; readonly value: unknown }
  | { readonly kind: 'remove' }
  | { readonly kind: 'extra'; readonly key: string; readonly value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: hostileValue.map((value) => ({ kind: 'replace' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'remove' as const }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(hostileKey, hostileValue)
      .map(([key, value]) => ({ kind: 'extra' as const, key, value })),
  },
);

/** The value with one place changed: a wrong value put there, taken away, or a key added. */
function mutate(
  value: unknown,
  choice: number,
  change: Mutation,
): { value: unknown; where: string } {
  const copy: unknown = structuredClone(value);
  const all = places(copy);
  const path = all[choice % all.length]!;
  const where = path.length === 0 ? '(the body)' : path.join('.');
  const parent = at(copy, path.slice(0, -1)) as Record<string | number, unknown>;
  const last = path.at(-1);
  switch (change.kind) {
    case 'replace':
      if (last === undefined) return { value: change.value, where };
      parent[last] = change.value;
      return { value: copy, where };
    case 'remove':
      if (last === undefined) return { value: undefined, where };
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else Reflect.deleteProperty(parent, last);
      return { value: copy, where };
    case 'extra': {
      const target = at(copy, path);
      if (typeof target !== 'object' || target === null || Array.isArray(target)) {
        return { value: { [change.key]: change.value, value: copy }, where };
      }
      Object.defineProperty(target, change.key, {
        value: change.value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
      return { value: copy, where };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parts of a URL

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes every byte of the UTF-8 form that is not unreserved (lone surrogates too). */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A path segment that is a bad name: traversal, encoded slashes and NULs, broken escapes, sizes. */
const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '...',
      '%2e%2e',
      '%2E%2E%2F%2E%2E',
      '..%2f..%2f..%2fetc%2fpasswd',
      '..%5c..%5cwindows',
      '%2f',
      '%2F%2F',
      '%252f',
      '%00',
      'a%00b',
      '%',
      '%%',
      '%zz',
      '%c3%28',
      '%ed%a0%80',
      '%ff%fe',
      '%c0%af',
      '%e2%80%ae',
      '%f0%9f%92%a9',
      '%ef%bb%bf',
      '~',
      '-',
      '_',
      '%20',
      '+',
      '0',
      '-1',
      '00',
      '1e3',
      '0x10',
      '1.5',
      'NaN',
      'Infinity',
      '9'.repeat(400),
      '%3f',
      '%23',
      ';',
      ',',
      '*',
      "'",
      '%27%20OR%201%3D1--',
      '$(id)',
      '%3Cscript%3E',
      'CON',
      '__proto__',
      'constructor',
      'latest',
      'a'.repeat(64),
      'a'.repeat(101),
      'run-00000000000000000000000',
      'key-zzzzzzzzzzzzzzzzzzzzzzz',
      'A'.repeat(64),
    ),
  },
  { weight: 2, arbitrary: fc.integer({ min: 1_000, max: 8_000 }).map((n) => 'a'.repeat(n)) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(percentEncode) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(percentEncode) },
  // Printable ASCII as is: slashes, '%', '?', '#' and dots where the router sees them.
  { weight: 2, arbitrary: fc.stringMatching(/^[!-~]{1,24}$/) },
);

/** A greedy `{path+}`: a file path with traversal, empty and encoded segments. */
const hostileFilePath: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '../../../../etc/passwd',
    'data/../../x',
    'data/%2e%2e/%2e%2e/x',
    '/etc/passwd',
    '//data/a.txt',
    'data//a.txt',
    'data/./a.txt',
    'data/a.txt/',
    '.',
    'data%2fa.txt',
    'data%5ca.txt',
    'data/a.txt%00.png',
  ),
  fc.array(hostileSegment, { minLength: 1, maxLength: 4 }).map((segments) => segments.join('/')),
);

/** Query values of the wrong type or size. */
const hostileQueryValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    'abc',
    '-1',
    '0',
    '1.5',
    '1e999',
    '-1e999',
    'NaN',
    'Infinity',
    '0x10',
    '99999999999999999999999',
    'true',
    'maybe',
    'null',
    '%00',
    '%',
    '%zz',
    '%c3%28',
    '%5B%5D',
    '%7B%7D',
    '..%2f..',
    '2026-13-45T99:99:99Z',
    'not-a-date',
    'eyJhIjoxfQ',
    '!!!',
    'a'.repeat(5_000),
  ),
  fc.string({ unit: 'binary', maxLength: 30 }).map(percentEncode),
  fc.stringMatching(/^[!-~]{0,24}$/).map((s) => s.replace(/[&#]/g, '')),
);

const hostileQueryKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'constructor[prototype]',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'meta.a[gt]',
    'meta.[gt]',
    'meta.a[zz]',
    'meta.a[]',
    'meta.__proto__.polluted',
    'meta.constructor[exists]',
    'meta.a.b.c.d.e.f.g.h[gte]',
    'meta',
    'meta.',
    'meta..a',
    'meta.x[exists]',
    'meta.tags[contains]',
    'label',
    'anyLabel',
    'sort',
    'latest',
    'createdAfter',
    'createdBefore',
    'creatorJob',
    'creatorRun',
    'cursor',
    'limit',
    'prefix',
    'name',
    'fileset',
    'follow',
    'format',
    'version',
    'from',
    'to',
    'a[b]',
    'a[]',
    '%00',
    '',
  ),
  fc.string({ maxLength: 12 }).map(percentEncode),
);

const hostileRange = fc.constantFrom(
  'bytes=0-0',
  'bytes=-1',
  'bytes=-',
  'bytes=5-1',
  'bytes=0-99999999999999999999999',
  'bytes=99999999999999999999999-',
  'bytes=1e3-',
  'bytes=0-1,2-3',
  'bytes=-0',
  'bytes= 0-1',
  'bytes=0x1-2',
  'bytes=99999999-',
  'bytes=-99999999',
  'bytes=',
  'items=0-1',
  'bytes=a-b',
  '',
);

const WRONG_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'text/html',
  'image/svg+xml',
  'application/json; charset=utf-16',
  'application/json; charset=iso-8859-1',
  'application/jsonx',
  'application/json-patch+json',
  'application/merge-patch+json',
  'APPLICATION/JSON',
  'application/json;',
  'application/json; =',
  'json',
  '*/*',
  'a/b/c',
  ';',
  ' ',
  '',
  'application/octet-stream',
];

const MALFORMED_JSON = [
  '{',
  '}',
  '{"a":',
  '[',
  '{"a":1,}',
  "{'a':1}",
  '{a:1}',
  'NaN',
  'undefined',
  '{"a":1}{"b":2}',
  '{"a":1} x',
  '\ufeff{}',
  '{"a":"\\x"}',
  '{"a":"\\u12"}',
  '"',
  '{"a":01}',
  '{"a":.5}',
  '{"a":+1}',
  '{"a":0x10}',
  '{"a":Infinity}',
  '//\n{}',
  '{"a":1 /* c */}',
  '{"a"\u0000:1}',
  '{"a":"\u0000"}',
  '\u0000',
  'null',
  'true',
  '0',
  '-1',
  '"text"',
  '[]',
  '[{}]',
  '[[[[',
  ' ',
  '\n',
];

/** Bodies that are not JSON, or are JSON of no use: broken, truncated, binary, another type. */
const malformedBody = (valid: fc.Arbitrary<string>): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.constantFrom(...MALFORMED_JSON).map((text) => Buffer.from(text)),
    fc
      .tuple(valid, fc.nat())
      .map(([text, cut]) => Buffer.from(text.slice(0, text.length === 0 ? 0 : cut % text.length))),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc
      .tuple(valid, fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xc0, 0xaf]))
      .map(([text, bad]) => {
        const at = Math.max(0, text.lastIndexOf('"'));
        return Buffer.concat([
          Buffer.from(text.slice(0, at)),
          Buffer.from(bad),
          Buffer.from(text.slice(at)),
        ]);
      }),
    fc.string({ unit: 'binary', maxLength: 60 }).map((text) => Buffer.from(text)),
  );

/** A body larger than the route accepts, as `{"a":"xxx…"}`. */
const oversizedBody = (limit: number) =>
  fc
    .integer({ min: limit + 1, max: limit * 3 })
    .map((size) => Buffer.from(`{"a":"${'x'.repeat(size)}"}`));

// ---------------------------------------------------------------------------------------------
// Requests of one operation

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * Hostile requests for one operation of the document. `template` is its OpenAPI path,
 * `methodsOfPath` every method the document serves there.
 */
export function hostileRequests(
  template: string,
  method: string,
  op: Operation,
  methodsOfPath: readonly string[],
  real: RealValues,
  limits: Limits,
): fc.Arbitrary<HostileRequest> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query' && !p.name.includes('<'));
  const isSearch = op.parameters.some((p) => p.name.includes('<'));
  const jsonSchema = op.requestBody?.content['application/json']?.schema;
  const binary = op.requestBody?.content['application/octet-stream'] !== undefined;
  const limit = /\/versions$/.test(template) && method === 'POST' ? limits.commit : limits.body;
  const bodyLimit = binary ? limits.upload : limit;

  /** A segment that may be right: a real name, or one generated from the schema. */
  const fairSegment = (param: Parameter): fc.Arbitrary<string> => {
    const greedy = param.name === 'path' && template.endsWith('{path}');
    const known = real(template, param.name);
    const generated = valueOf(param.schema).map((v) =>
      greedy
        ? String(v)
            .split('/')
            .map((s) => percentEncode(s))
            .join('/')
        : percentEncode(String(v)),
    );
    return known.length === 0
      ? generated
      : fc.oneof(
          {
            weight: 3,
            arbitrary: fc.constantFrom(
              ...known.map((k) => k.split('/').map(percentEncode).join('/')),
            ),
          },
          { weight: 1, arbitrary: generated },
        );
  };
  const badSegment = (param: Parameter): fc.Arbitrary<string> =>
    param.name === 'path' && template.endsWith('{path}')
      ? fc.oneof(hostileSegment, hostileFilePath)
      : hostileSegment;

  const fairParams: fc.Arbitrary<Record<string, string>> = fc.record(
    Object.fromEntries(pathParams.map((p) => [p.name, fairSegment(p)])),
  );
  /** At least one path parameter bad; the others bad or fair. */
  const badParams: fc.Arbitrary<{ values: Record<string, string>; what: string }> =
    pathParams.length === 0
      ? fc.constant({ values: {}, what: 'no path parameter' })
      : fc
          .tuple(
            fc.nat({ max: pathParams.length - 1 }),
            fc.tuple(
              ...pathParams.map((p) => fc.tuple(fairSegment(p), badSegment(p), fc.boolean())),
            ),
          )
          .map(([forced, choices]) => {
            const values: Record<string, string> = {};
            const bad: string[] = [];
            pathParams.forEach((p, i) => {
              const [fair, hostileOne, pickBad] = choices[i]!;
              const useBad = i === forced || pickBad;
              values[p.name] = useBad ? hostileOne : fair;
              if (useBad) bad.push(`{${p.name}}`);
            });
            return { values, what: `path ${bad.join(' ')}` };
          });

  const build = (values: Record<string, string>) =>
    template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '');

  /** The query: required parameters with fair values, optional ones sometimes. */
  const fairQuery: fc.Arbitrary<string[]> = fc
    .tuple(
      ...queryParams.map((p) =>
        fc.tuple(
          valueOf(p.schema).map((v) => `${p.name}=${percentEncode(String(v))}`),
          fc.boolean(),
        ),
      ),
    )
    .map((pairs) =>
      pairs.filter(([, use], i) => use || queryParams[i]?.required === true).map(([pair]) => pair),
    );
  const badQuery: fc.Arbitrary<string[]> = fc
    .tuple(
      fairQuery,
      fc.array(
        fc.tuple(
          queryParams.length === 0 || isSearch
            ? hostileQueryKey
            : fc.oneof(fc.constantFrom(...queryParams.map((p) => p.name)), hostileQueryKey),
          hostileQueryValue,
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([fair, bad]) => [...fair, ...bad.map(([k, v]) => `${k}=${v}`)]);
  const withQuery = (path: string, query: readonly string[]) =>
    query.length === 0 ? path : `${path}?${query.join('&')}`;

  const fairBody: fc.Arbitrary<string | undefined> =
    jsonSchema === undefined ? fc.constant(undefined) : valueOf(jsonSchema).map(jsonText);
  const jsonHeaders = (body: string | Buffer | undefined): Record<string, string> =>
    body === undefined ? {} : { 'content-type': 'application/json' };
  const asBuffer = (body: string | Buffer | undefined) =>
    body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const key = fc.constantFrom<'admin' | 'read'>('admin', 'admin', 'admin', 'read');

  const request = (
    what: string,
    path: string,
    body: string | Buffer | undefined,
    k: 'admin' | 'read',
    headers: Record<string, string> = jsonHeaders(body),
    overrides: Partial<HostileRequest> = {},
  ): HostileRequest => {
    const bytes = asBuffer(body);
    return hostile({
      what,
      method,
      path,
      headers,
      ...(bytes === undefined ? {} : { body: bytes }),
      key: k,
      ...overrides,
    });
  };

  const kinds: fc.WeightedArbitrary<HostileRequest>[] = [
    {
      weight: 4,
      arbitrary: fc
        .tuple(badParams, fairQuery, fairBody, key)
        .map(([params, query, body, k]) =>
          request(params.what, withQuery(build(params.values), query), body, k),
        ),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fairParams, badQuery, fairBody, key)
        .map(([params, query, body, k]) =>
          request('query', withQuery(build(params), query), body, k),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, fairQuery, fairBody, key)
        .map(([params, query, body, k]) =>
          request('as documented', withQuery(build(params), query), body, k),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, fairQuery, key, malformedBody(fairBody.map((b) => b ?? '{}')))
        .map(([params, query, k, body]) =>
          request('malformed JSON', withQuery(build(params), query), body, k),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, fairQuery, key, fc.boolean())
        .map(([params, query, k, typed]) =>
          request(
            typed ? 'empty JSON body' : 'no body',
            withQuery(build(params), query),
            typed ? Buffer.alloc(0) : undefined,
            k,
            typed ? { 'content-type': 'application/json' } : {},
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, fairQuery, key, fairBody, fc.constantFrom(...WRONG_CONTENT_TYPES))
        .map(([params, query, k, body, type]) =>
          request('wrong content-type', withQuery(build(params), query), body ?? '{}', k, {
            'content-type': type,
          }),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, fairQuery, key, oversizedBody(bodyLimit), fc.boolean())
        .map(([params, query, k, body, chunked]) =>
          request(
            `oversized body${chunked ? ' (chunked)' : ''}`,
            withQuery(build(params), query),
            body,
            k,
            { 'content-type': binary ? 'application/octet-stream' : 'application/json' },
            { chunked },
          ),
        ),
    },
  ];

  const otherMethods = METHODS.filter((m) => !methodsOfPath.includes(m));
  if (otherMethods.length > 0) {
    kinds.push({
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, key, fc.constantFrom(...otherMethods))
        .map(([params, k, other]) =>
          request('method not served', build(params), undefined, k, {}, { method: other }),
        ),
    });
  }

  if (jsonSchema !== undefined) {
    kinds.push(
      {
        weight: 4,
        arbitrary: fc
          .tuple(fairParams, fairQuery, key, valueOf(jsonSchema), fc.nat(), mutation)
          .map(([params, query, k, value, choice, change]) => {
            const { value: body, where } = mutate(value, choice, change);
            const text = body === undefined ? undefined : jsonText(body);
            return request(
              `body: ${change.kind} at ${clip(where, 60)}`,
              withQuery(build(params), query),
              text,
              k,
            );
          }),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fairParams, fairQuery, key, hostileValue)
          .map(([params, query, k, value]) =>
            request('body: hostile value', withQuery(build(params), query), jsonText(value), k),
          ),
      },
    );
  }

  if (binary) {
    kinds.push({
      weight: 3,
      arbitrary: fc
        .tuple(
          fairParams,
          key,
          fc.uint8Array({ maxLength: 2_000 }),
          fc.constantFrom(
            'application/octet-stream',
            'application/json',
            'text/plain',
            'image/png',
            '',
          ),
        )
        .map(([params, k, bytes, type]) =>
          request('upload', build(params), Buffer.from(bytes), k, { 'content-type': type }),
        ),
    });
  }

  if (method === 'GET') {
    kinds.push({
      weight: 1,
      arbitrary: fc
        .tuple(fairParams, key, hostileRange)
        .map(([params, k, range]) => request('range', build(params), undefined, k, { range })),
    });
  }

  return fc.oneof(...kinds);
}

// ---------------------------------------------------------------------------------------------
// Requests that are not valid HTTP

/** Bytes a path must not hold as they are: NUL, controls, spaces, raw UTF-8, a lone CR or LF. */
const rawSegment = fc.oneof(
  fc.constantFrom('a\u0000b', 'a b', 'a\tb', '\u007f', 'a\rb', 'a\nb', '\r\nX-Injected: 1'),
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
    .filter((s) => /[^\x21-\x7e]/.test(s)),
);

/** How the request around the path is broken, if it is. */
const framing = fc.constantFrom(
  'none',
  'unframed body',
  'two lengths',
  'length and chunked',
  'bad chunk',
  'bad length',
  'bad header',
  'bad version',
);

/**
 * Requests for one operation that no HTTP client would send: raw bytes in a path parameter, a body
 * without framing, conflicting lengths, broken chunks, a header without a name. Each goes on a
 * connection of its own.
 */
export function rawRequests(
  template: string,
  method: string,
  host: string,
  key: string,
): fc.Arbitrary<{ what: string; bytes: Buffer }> {
  return fc
    .tuple(fc.option(rawSegment, { nil: undefined }), framing)
    .filter(([segment, frame]) => segment !== undefined || frame !== 'none')
    .map(([segment, frame]) => {
      let replaced = false;
      const path = template.replace(/\{(\w+)\}/g, () => {
        if (segment !== undefined && !replaced) {
          replaced = true;
          return segment;
        }
        return 'x';
      });
      const target = segment !== undefined && !replaced ? `${path}/${segment}` : path;
      const head = [
        `${method} ${target} ${frame === 'bad version' ? 'HTTP/9.9' : 'HTTP/1.1'}`,
        `Host: ${host}`,
        `Authorization: Bearer ${key}`,
        'Connection: close',
      ];
      const body = '{"a":1}';
      const tail: Record<typeof frame, string[]> = {
        none: [],
        'unframed body': ['Content-Type: application/json', '', body],
        'two lengths': ['Content-Length: 7', 'Content-Length: 8', '', body],
        'length and chunked': [
          'Content-Length: 7',
          'Transfer-Encoding: chunked',
          '',
          `7\r\n${body}\r\n0\r\n\r\n`,
        ],
        'bad chunk': ['Transfer-Encoding: chunked', '', `zz\r\n${body}\r\n0\r\n\r\n`],
        'bad length': ['Content-Length: -7', '', body],
        'bad header': [': no name', '', ''],
        'bad version': [],
      };
      const lines = [...head, ...tail[frame]];
      if (tail[frame].length === 0) lines.push('', '');
      return {
        what: `${frame}${segment === undefined ? '' : `, path with ${JSON.stringify(segment)}`}: ${method} ${template}`,
        bytes: Buffer.from(lines.join('\r\n'), 'utf8'),
      };
    });
}

// ---------------------------------------------------------------------------------------------
// The answer

export type Answer =
  | { readonly status: number; readonly contentType: string; readonly text: string }
  | { readonly dropped: string };

/** Lines of a stack trace, or the text an Error prints before one. */
const STACK = [
  /^\s*at \S.*:\d+:\d+\)?\s*$/m,
  /\bat [^\s"]+ \([^)"]*\.[cm]?[jt]s:\d+/,
  /\b\w*Error: [^"\n]*\n\s+at /,
  /\bnode:internal\//,
];

/**
 * What is wrong with an answer, or undefined: it must come (no dropped connection), be a 4xx with
 * the gateway's problem document or a success the operation documents, and show no stack trace.
 */
export function judge(op: Operation | undefined, answer: Answer): string | undefined {
  if ('dropped' in answer) return `no answer: ${answer.dropped}`;
  const { status, contentType, text } = answer;
  const stack = STACK.find((pattern) => pattern.test(text));
  if (stack !== undefined) return `${status} with a stack trace: ${clip(text, 300)}`;
  if (status >= 200 && status < 300) {
    const documented = op !== undefined && String(status) in op.responses;
    const partial = status === 206 && op?.description?.includes('(206)') === true;
    return documented || partial ? undefined : `${status}, which the operation does not document`;
  }
  if (status < 400 || status >= 500) return `${status}: ${clip(text, 300)}`;
  if (!contentType.startsWith('application/problem+json')) {
    return `${status} as ${JSON.stringify(contentType)}, not a problem document: ${clip(text, 200)}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${status} whose problem document is not JSON: ${clip(text, 200)}`;
  }
  const problem = body as Record<string, unknown>;
  const error = problem['error'] as Record<string, unknown> | undefined;
  const complete =
    typeof problem['type'] === 'string' &&
    problem['type'].startsWith('urn:acai:problem:') &&
    typeof problem['title'] === 'string' &&
    problem['status'] === status &&
    typeof problem['detail'] === 'string' &&
    typeof problem['code'] === 'string' &&
    typeof problem['reason'] === 'string' &&
    typeof problem['retryable'] === 'boolean' &&
    typeof error === 'object' &&
    error !== null &&
    error['code'] === problem['code'] &&
    error['message'] === problem['detail'];
  return complete ? undefined : `${status} with an incomplete problem document: ${clip(text, 300)}`;
}
