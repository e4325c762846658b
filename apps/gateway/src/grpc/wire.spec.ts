import { describe, expect, it } from '@jest/globals';
import { describeMalformed, type FieldDescriptor } from './wire.js';

const GetRun = {
  name: 'RunRequest',
  field: [{ name: 'id', number: 1, type: 'TYPE_STRING' }] satisfies FieldDescriptor[],
};
const ListFiles = {
  name: 'ListFilesRequest',
  field: [
    { name: 'name', number: 1, type: 'TYPE_STRING' },
    { name: 'limit', number: 4, type: 'TYPE_UINT32' },
    { name: 'spec', number: 5, type: 'TYPE_MESSAGE' },
  ] satisfies FieldDescriptor[],
};

describe('a malformed request message', () => {
  it('is fine when every top-level field has its wire type and length', () => {
    // name = "ab", limit = 5, an unknown field 9 (varint) skipped.
    const bytes = Uint8Array.from([0x0a, 0x02, 0x61, 0x62, 0x20, 0x05, 0x48, 0x01]);
    expect(describeMalformed(bytes, ListFiles)).toBeNull();
  });

  it('names a field that came with the wrong wire type', () => {
    expect(describeMalformed(Uint8Array.from([0x08, 0x05]), GetRun)).toBe(
      "Malformed RunRequest: field 'id' came as varint, but it is a string",
    );
    expect(describeMalformed(Uint8Array.from([0x22, 0x01, 0x00]), ListFiles)).toMatch(
      /field 'limit' came as length-delimited, but it is a uint32/,
    );
  });

  it('names a field longer than the message', () => {
    expect(describeMalformed(Uint8Array.from([0x0a, 0x09, 0x61]), GetRun)).toMatch(
      /field 'id' is 9 bytes long, more than the message has left/,
    );
  });

  it('names a field cut off inside its value', () => {
    expect(describeMalformed(Uint8Array.from([0x20, 0x80]), ListFiles)).toMatch(
      /ends inside field 'limit'/,
    );
  });

  it('with the decoder failing deeper, says in which message field it may have been', () => {
    expect(
      describeMalformed(Uint8Array.from([0x2a, 0x01, 0x07]), ListFiles, 'invalid wire type 7'),
    ).toBe("Malformed ListFilesRequest: field 'spec' could not be decoded (invalid wire type 7)");
  });
});
