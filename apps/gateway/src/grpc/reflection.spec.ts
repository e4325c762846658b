import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import * as protoLoader from '@grpc/proto-loader';
import type * as Descriptors from 'protobufjs/ext/descriptor/index.js';
import { PROTO_FILES, PROTO_LOAD_OPTIONS } from '@acai/contracts/proto';
import { mapEntryName, withImports } from './reflection.js';

const { FileDescriptorProto } = createRequire(import.meta.url)(
  'protobufjs/ext/descriptor/index.js',
) as typeof Descriptors;

type Field = Descriptors.IFieldDescriptorProto & { proto3Optional?: boolean };

/** Every message of the files reflection hands out, nested ones included, by full name. */
function messagesByReflection(): Map<string, Descriptors.IDescriptorProto> {
  const definition = withImports(protoLoader.loadSync([...PROTO_FILES], PROTO_LOAD_OPTIONS));
  const messages = new Map<string, Descriptors.IDescriptorProto>();
  const walk = (m: Descriptors.IDescriptorProto, scope: string) => {
    const name = `${scope}.${m.name ?? ''}`;
    messages.set(name, m);
    for (const n of m.nestedType ?? []) walk(n, name);
  };
  for (const type of Object.values(definition)) {
    const files = (type as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? [];
    for (const bytes of files) {
      const file = FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes), {
        defaults: false,
      }) as Descriptors.IFileDescriptorProto;
      if (file.package !== 'acai.v1') continue;
      for (const m of file.messageType ?? []) walk(m, `.${file.package}`);
    }
  }
  return messages;
}

describe('the descriptors served by reflection', () => {
  const messages = messagesByReflection();

  it('name each map field’s entry type as protoc does, declared in its message (grpcurl checks it)', () => {
    const maps: string[] = [];
    for (const [name, message] of messages) {
      for (const field of message.field ?? []) {
        const entry = field.typeName ? messages.get(field.typeName) : undefined;
        if (entry?.options?.mapEntry !== true) continue;
        maps.push(`${name}.${field.name ?? ''}`);
        expect(field.typeName).toBe(`${name}.${mapEntryName(field.name ?? '')}`);
      }
    }
    // run trials' params and last metrics, a job's parameters, metadata …
    expect(maps.length).toBeGreaterThanOrEqual(3);
  });

  it('mark proto3 optional fields, so their one-field oneofs are synthetic, not part of the API', () => {
    let optional = 0;
    let real = 0;
    for (const [name, message] of messages) {
      for (const [index, oneof] of (message.oneofDecl ?? []).entries()) {
        const members = (message.field ?? []).filter((f) => f.oneofIndex === index) as Field[];
        const marked = members.map((f) => `${name}.${f.name ?? ''}: ${String(f.proto3Optional)}`);
        if (oneof.name?.startsWith('_') === true && members.length === 1) {
          expect(marked).toEqual([`${name}.${members[0]!.name ?? ''}: true`]);
          optional++;
        } else {
          // A oneof of the API (an upload's header or chunk, a spec as a document or text).
          expect(marked).toEqual(members.map((f) => `${name}.${f.name ?? ''}: undefined`));
          real++;
        }
      }
    }
    expect(optional).toBeGreaterThanOrEqual(10);
    expect(real).toBeGreaterThanOrEqual(2);
  });

  it('spells map entry names as protoc does', () => {
    expect(mapEntryName('last_metrics')).toBe('LastMetricsEntry');
    expect(mapEntryName('params')).toBe('ParamsEntry');
  });
});
