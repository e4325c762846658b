import type { z } from 'zod';
import { toStruct } from './struct.js';

/**
 * REST answers as the typed gRPC messages of acai.v1 (as proto-loader serializes them, with
 * `keepCase`): each field of the zod-validated answer under its snake_case name, a null or absent
 * value left out (an `optional` field unset), free-form JSON (`z.unknown()`, metadata) as a
 * google.protobuf.Struct, a union's fields on one message, a list answered as `{ items }`.
 *
 * The answer's schema drives the walk, so a field the schema gains is carried too; that the
 * message has a field for it is what `messages.spec.ts` checks, for every method.
 */

/** A message as proto-loader takes it: fields by their proto names. */
export type Message = { readonly [field: string]: unknown };

/** `createdAt` → `created_at`, `vCpu` → `v_cpu`, `manifestSha256` → `manifest_sha256`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The parts of a zod schema the walk reads (zod 4's definition), without a cast at each use. */
export interface SchemaDef {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly element?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly discriminator?: string;
  readonly left?: z.ZodType;
  readonly right?: z.ZodType;
  readonly out?: z.ZodType;
  readonly getter?: () => z.ZodType;
}

export function defOf(schema: z.ZodType): SchemaDef {
  const def: unknown = schema._zod.def;
  return def as SchemaDef;
}

/** Wrappers that change what may be absent, not what a value is. */
const WRAPPERS = new Set(['nullable', 'optional', 'default', 'prefault', 'readonly', 'catch']);

/** The schema under its wrappers (nullable, optional, default …), lazy and pipe resolved. */
export function unwrap(schema: z.ZodType): z.ZodType {
  for (let s = schema; ;) {
    const def = defOf(s);
    if (WRAPPERS.has(def.type) && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.out) s = def.out;
    else if (def.type === 'lazy' && def.getter) s = def.getter();
    else return s;
  }
}

/** Free-form JSON: the value's type is not known (a payload, metadata values). */
export function isFreeForm(schema: z.ZodType): boolean {
  const type = defOf(unwrap(schema)).type;
  return type === 'unknown' || type === 'any';
}

/** The option of a union a value is: by its discriminator, else the first it parses as. */
function optionOf(def: SchemaDef, value: unknown): z.ZodType | undefined {
  const options = def.options ?? [];
  if (def.discriminator !== undefined && typeof value === 'object' && value !== null) {
    const tag = (value as Record<string, unknown>)[def.discriminator];
    const found = options.find((option) => {
      const field = defOf(unwrap(option)).shape?.[def.discriminator!];
      return field !== undefined && field.safeParse(tag).success;
    });
    if (found) return found;
  }
  return options.find((option) => option.safeParse(value).success);
}

/** A field's value as the message has it (undefined: left out). */
function valueOf(schema: z.ZodType, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const object = value as Record<string, unknown>;
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        const mapped = valueOf(field, object[key]);
        if (mapped !== undefined) out[snakeCase(key)] = mapped;
      }
      return out;
    }
    case 'array':
      return (value as unknown[]).map((item) => valueOf(def.element!, item));
    case 'record':
      if (isFreeForm(def.valueType!)) return toStruct(value);
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([key, item]) => [
          key,
          valueOf(def.valueType!, item),
        ]),
      );
    case 'union': {
      const option = optionOf(def, value);
      return option === undefined ? undefined : valueOf(option, value);
    }
    case 'intersection':
      return {
        ...(valueOf(def.left!, value) as Message),
        ...(valueOf(def.right!, value) as Message),
      };
    case 'unknown':
    case 'any':
      return toStruct(value);
    default:
      return value;
  }
}

/**
 * A typed answer: the REST answer `value` (of `schema`, the route's success body) as its message.
 * A list (job history) answers as `{ items }`.
 */
export function toMessage<S extends z.ZodType>(schema: S, value: z.output<S>): Message {
  const def = defOf(unwrap(schema));
  if (def.type === 'array') return { items: valueOf(schema, value) };
  return (valueOf(schema, value) as Message | undefined) ?? {};
}
