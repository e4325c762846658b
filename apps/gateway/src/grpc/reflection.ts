import { createRequire } from 'node:module';
import type * as protoLoader from '@grpc/proto-loader';
import type * as Descriptors from 'protobufjs/ext/descriptor/index.js';

// protobuf.js's descriptor types, as CommonJS (its module object is not seen as named exports).
const descriptor = createRequire(import.meta.url)(
  'protobufjs/ext/descriptor/index.js',
) as typeof Descriptors;
const FileDescriptorProto = descriptor.FileDescriptorProto;

/**
 * The definition with each file's imports stated, for server reflection. proto-loader describes
 * the protos as one file per package (`acai_v1.proto`, `google_protobuf.proto`) whose `dependency`
 * lists are empty, though `acai_v1.proto` uses `google.protobuf.Struct`: a reflection client such
 * as grpcurl fetches a file and then the files it imports, and could not resolve the Struct. Each
 * file here lists the files of the packages its fields and methods refer to.
 */
export function withImports(
  definition: protoLoader.PackageDefinition,
): protoLoader.PackageDefinition {
  const files = new Map<string, Descriptors.IFileDescriptorProto>();
  for (const type of Object.values(definition)) {
    for (const bytes of filesOf(type) ?? []) {
      const file = FileDescriptorProto.toObject(
        FileDescriptorProto.decode(bytes),
      ) as Descriptors.IFileDescriptorProto;
      if (file.name !== undefined && !files.has(file.name)) files.set(file.name, file);
    }
  }
  // Where each message and enum is defined, by its fully qualified name (`.google.protobuf.Struct`).
  const symbols = new Map<string, string>();
  for (const [name, file] of files) {
    const scope = file.package ? `.${file.package}` : '';
    for (const message of file.messageType ?? []) defineSymbols(message, scope, name, symbols);
    for (const e of file.enumType ?? []) symbols.set(`${scope}.${e.name ?? ''}`, name);
  }
  const encoded = new Map<string, Buffer>();
  for (const [name, file] of files) {
    const dependency = new Set<string>();
    // protobuf.js writes a name of another package relative to the scope
    // (`google.protobuf.Struct`): written out in full, as protoc does, with its file imported.
    const qualify = (reference: string | undefined | null, scope: string): string | undefined => {
      if (!reference) return undefined;
      const full = resolve(reference, scope, symbols);
      const from = symbols.get(full);
      if (from !== undefined && from !== name) dependency.add(from);
      return full;
    };
    const scope = file.package ? `.${file.package}` : '';
    const messageType = (file.messageType ?? []).map((m) => qualifyMessage(m, scope, qualify));
    const service = (file.service ?? []).map((svc) => ({
      ...svc,
      method: (svc.method ?? []).map((m) => ({
        ...m,
        inputType: qualify(m.inputType, scope),
        outputType: qualify(m.outputType, scope),
      })),
    }));
    const message = FileDescriptorProto.fromObject({
      ...file,
      messageType,
      service,
      dependency: [...dependency],
    });
    encoded.set(name, Buffer.from(FileDescriptorProto.encode(message).finish()));
  }
  const patched: protoLoader.PackageDefinition = {};
  for (const [symbol, type] of Object.entries(definition)) {
    const carried = filesOf(type);
    patched[symbol] =
      carried === undefined
        ? type
        : ({
            ...type,
            fileDescriptorProtos: carried.map((bytes) => {
              const name: unknown = FileDescriptorProto.decode(bytes).toJSON()['name'];
              return (typeof name === 'string' ? encoded.get(name) : undefined) ?? bytes;
            }),
          } as protoLoader.AnyDefinition);
  }
  return patched;
}

/** The files a message's or enum's entry carries; a service's entry (its methods) has none. */
function filesOf(type: protoLoader.AnyDefinition): Buffer[] | undefined {
  if (typeof (type as { format?: unknown }).format !== 'string') return undefined;
  const files = (type as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
  return Array.isArray(files) ? files.filter((f): f is Buffer => Buffer.isBuffer(f)) : undefined;
}

function defineSymbols(
  message: Descriptors.IDescriptorProto,
  scope: string,
  file: string,
  symbols: Map<string, string>,
): void {
  const name = `${scope}.${message.name ?? ''}`;
  symbols.set(name, file);
  for (const nested of message.nestedType ?? []) defineSymbols(nested, name, file, symbols);
  for (const e of message.enumType ?? []) symbols.set(`${name}.${e.name ?? ''}`, file);
}

/** A type name as protoc writes it: fully qualified, found from `scope` outwards. */
function resolve(reference: string, scope: string, symbols: ReadonlyMap<string, string>): string {
  if (reference.startsWith('.')) return reference;
  for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
    const candidate = `${at}.${reference}`;
    if (symbols.has(candidate)) return candidate;
    if (at === '') return `.${reference}`;
  }
}

function qualifyMessage(
  message: Descriptors.IDescriptorProto,
  scope: string,
  qualify: (reference: string | undefined | null, scope: string) => string | undefined,
): Descriptors.IDescriptorProto {
  const name = `${scope}.${message.name ?? ''}`;
  const protocLike = asProtocWrites(message, name);
  return {
    ...protocLike,
    field: (protocLike.field ?? []).map((f) => ({ ...f, typeName: qualify(f.typeName, name) })),
    nestedType: (protocLike.nestedType ?? []).map((n) => qualifyMessage(n, name, qualify)),
  };
}

/** The field with proto3's `optional`, as protoc marks it (descriptor field 17). */
type FieldWithOptional = Descriptors.IFieldDescriptorProto & { proto3Optional?: boolean };

/**
 * A message described as protoc describes it, where protobuf.js differs in ways a reflection
 * client checks: a map field's entry type is `<FieldName>Entry` (protobuf.js names it after the
 * field alone, which Go's descriptor validation, and so grpcurl, refuses), and a proto3 `optional`
 * field is marked as such, so that its one-field oneof (`_<field>`) is read as synthetic rather than
 * as a oneof of the API.
 */
function asProtocWrites(
  message: Descriptors.IDescriptorProto,
  fullName: string,
): Descriptors.IDescriptorProto {
  const entries = new Map<string, string>();
  for (const field of message.field ?? []) {
    const entry = (message.nestedType ?? []).find(
      (n) => n.options?.mapEntry === true && n.name === field.typeName,
    );
    if (entry?.name && field.name) entries.set(entry.name, mapEntryName(field.name));
  }
  const fields = message.field ?? [];
  const synthetic = new Set<number>();
  for (const [index, oneof] of (message.oneofDecl ?? []).entries()) {
    const members = fields.filter((f) => f.oneofIndex === index);
    if (members.length === 1 && oneof.name === `_${members[0]!.name ?? ''}`) synthetic.add(index);
  }
  return {
    ...message,
    field: fields.map((f): FieldWithOptional => {
      const renamed = f.typeName ? entries.get(f.typeName) : undefined;
      return {
        ...f,
        ...(renamed === undefined ? {} : { typeName: `${fullName}.${renamed}` }),
        ...(f.oneofIndex !== undefined && f.oneofIndex !== null && synthetic.has(f.oneofIndex)
          ? { proto3Optional: true }
          : {}),
      };
    }),
    nestedType: (message.nestedType ?? []).map((n) => {
      const renamed = n.name ? entries.get(n.name) : undefined;
      return renamed === undefined ? n : { ...n, name: renamed };
    }),
  };
}

/** protoc's name for a map field's entry type: `last_metrics` → `LastMetricsEntry`. */
export function mapEntryName(field: string): string {
  return `${field
    .split('_')
    .map((part) => (part === '' ? '' : part[0]!.toUpperCase() + part.slice(1)))
    .join('')}Entry`;
}
