/**
 * Why a request message could not be decoded, naming the field: protobuf.js says only where in
 * the bytes it stopped ("index out of range: 9 + 10 > 12"). Walks the message's top-level fields
 * (tag, wire type, length) against its descriptor, as proto-loader hands it over.
 */
export interface FieldDescriptor {
  readonly name: string;
  readonly number: number;
  readonly type: string;
  readonly label?: string;
}

const WIRE_TYPE_NAMES = [
  'varint',
  '64-bit',
  'length-delimited',
  'group start',
  'group end',
  '32-bit',
];

/** The wire type a field of this descriptor type is written with (repeated scalars may be packed). */
function wireTypeOf(field: FieldDescriptor): readonly number[] {
  switch (field.type) {
    case 'TYPE_STRING':
    case 'TYPE_BYTES':
    case 'TYPE_MESSAGE':
      return [2];
    case 'TYPE_DOUBLE':
    case 'TYPE_FIXED64':
    case 'TYPE_SFIXED64':
      return field.label === 'LABEL_REPEATED' ? [1, 2] : [1];
    case 'TYPE_FLOAT':
    case 'TYPE_FIXED32':
    case 'TYPE_SFIXED32':
      return field.label === 'LABEL_REPEATED' ? [5, 2] : [5];
    default:
      return field.label === 'LABEL_REPEATED' ? [0, 2] : [0];
  }
}

/** Reads a varint at `at`: its value and the offset after it, or null if the bytes end first. */
function varint(bytes: Uint8Array, at: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const byte = bytes[i]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

/**
 * What is wrong with `bytes` as a message of `type` at its top level (the first fault, naming its
 * field), or null. protobuf.js skips a field that came with the wrong wire type as if unknown, so
 * this is asked before decoding too: `{"id": 5}` for a string `id` is refused, not read as no id.
 * With `decoderMessage` (the decoder failed), never null: the decoder's message, and the fields
 * whose insides it may have failed in.
 */
export function describeMalformed(
  bytes: Uint8Array,
  type: { readonly name?: string; readonly field?: readonly FieldDescriptor[] },
  decoderMessage?: string,
): string | null {
  const fields = new Map((type.field ?? []).map((f) => [f.number, f]));
  const what = type.name ?? 'message';
  const nested = new Set<string>();
  let at = 0;
  while (at < bytes.length) {
    const tag = varint(bytes, at);
    if (tag === null) return `Malformed ${what}: it ends inside a field's tag`;
    const number = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    const field = fields.get(number);
    const label = field === undefined ? `unknown field ${number}` : `field '${field.name}'`;
    if (field !== undefined && !wireTypeOf(field).includes(wire)) {
      return `Malformed ${what}: ${label} came as ${WIRE_TYPE_NAMES[wire] ?? `wire type ${wire}`}, but it is a ${field.type.replace('TYPE_', '').toLowerCase()}`;
    }
    at = tag.next;
    switch (wire) {
      case 0: {
        const value = varint(bytes, at);
        if (value === null) return `Malformed ${what}: it ends inside ${label}`;
        at = value.next;
        break;
      }
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2: {
        const length = varint(bytes, at);
        if (length === null) return `Malformed ${what}: it ends inside ${label}'s length`;
        at = length.next + length.value;
        if (at > bytes.length) {
          return `Malformed ${what}: ${label} is ${length.value} bytes long, more than the message has left`;
        }
        // Its length is right: if the decoder failed, it may have been inside it.
        if (field?.type === 'TYPE_MESSAGE') nested.add(field.name);
        break;
      }
      default:
        return `Malformed ${what}: ${label} has wire type ${wire}, which proto3 does not use`;
    }
    if (at > bytes.length) return `Malformed ${what}: it ends inside ${label}`;
  }
  if (decoderMessage === undefined) return null;
  return nested.size === 0
    ? `Malformed ${what}: ${decoderMessage}`
    : `Malformed ${what}: field '${[...nested].join("' or '")}' could not be decoded (${decoderMessage})`;
}
