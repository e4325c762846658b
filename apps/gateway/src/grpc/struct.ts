import { AcaiError, CommonProblems } from '@acai/contracts';
import { MAX_JSON_DEPTH } from '../http/routes.js';

/** `google.protobuf.Value` as proto-loader hands it over: the one field of its oneof that is set. */
export interface ValueMessage {
  readonly kind?: string;
  readonly nullValue?: string | number;
  readonly numberValue?: number;
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly structValue?: StructMessage;
  readonly listValue?: { readonly values?: readonly ValueMessage[] };
}

/** `google.protobuf.Struct` as proto-loader hands it over. */
export interface StructMessage {
  readonly fields?: Readonly<Record<string, ValueMessage>>;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function invalid(path: string, message: string): AcaiError {
  return new AcaiError(CommonProblems.INVALID_REQUEST, `Invalid request: ${path}: ${message}`, [
    { path, message },
  ]);
}

/**
 * A Struct of a request as the JSON object it stands for (what the REST body would be), nesting
 * at most MAX_JSON_DEPTH levels deep, as REST bodies do. `path` names the field in errors.
 */
export function fromStruct(struct: StructMessage, path: string): { [key: string]: Json } {
  return objectOf(struct, path, 1);
}

function objectOf(struct: StructMessage, path: string, depth: number): { [key: string]: Json } {
  if (depth > MAX_JSON_DEPTH) {
    throw invalid(path, `nests more than ${MAX_JSON_DEPTH} levels deep; flatten it`);
  }
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(struct.fields ?? {})) {
    out[key] = valueOf(value, `${path}.${key}`, depth);
  }
  return out;
}

function valueOf(value: ValueMessage, path: string, depth: number): Json {
  if (value.structValue !== undefined) return objectOf(value.structValue, path, depth + 1);
  if (value.listValue !== undefined) {
    if (depth + 1 > MAX_JSON_DEPTH) {
      throw invalid(path, `nests more than ${MAX_JSON_DEPTH} levels deep; flatten it`);
    }
    return (value.listValue.values ?? []).map((item, i) =>
      valueOf(item, `${path}.${i}`, depth + 1),
    );
  }
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.nullValue !== undefined) return null;
  throw invalid(path, 'a google.protobuf.Value with no kind set');
}

/** An answer (the JSON the REST route answers) as a Struct; a list answers as `{ items }`. */
export function toStruct(answer: unknown): StructMessage {
  const json: unknown = JSON.parse(JSON.stringify(answer ?? {}));
  const object = Array.isArray(json) ? { items: json } : json;
  return toValue(object).structValue ?? { fields: { value: toValue(object) } };
}

function toValue(json: unknown): ValueMessage {
  if (json === null) return { nullValue: 'NULL_VALUE' };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: { values: json.map(toValue) } };
  const fields: Record<string, ValueMessage> = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    fields[key] = toValue(value);
  }
  return { structValue: { fields } };
}
