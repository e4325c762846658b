import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { PROTO_FILES, PROTO_LOAD_OPTIONS } from '@acai/contracts/proto';
import { eventually } from '@acai/testkit';
import { toStruct } from '../../apps/gateway/src/grpc/struct.js';
import { startSystem, type TestSystem } from '../support/system.js';

/**
 * The gRPC API with a real @grpc/grpc-js client, loaded from the .proto files as any client would:
 * every method, the key check, the errors as statuses, a large streamed upload, a log stream that
 * follows a job to its end, health checking and reflection.
 */

const options: protoLoader.Options = PROTO_LOAD_OPTIONS;
const reflectionProto = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection')),
  '../proto/grpc/reflection/v1/reflection.proto',
);
const definition = protoLoader.loadSync(
  [...PROTO_FILES, healthProtoPath, reflectionProto],
  options,
);

type Method = protoLoader.MethodDefinition<object, object>;

/** A file descriptor as reflection sends it, read with protobuf.js's descriptor types. */
const descriptors = createRequire(import.meta.url)(
  'protobufjs/ext/descriptor/index.js',
) as typeof import('protobufjs/ext/descriptor/index.js');
interface FileView {
  name: string;
  package: string;
  dependency: string[];
  service: { name: string; method: { name: string; outputType: string }[] }[];
  messageType: MessageView[];
}
interface MessageView {
  name: string;
  field: { typeName: string }[];
  /** A map field's entry type is nested in its message. */
  nestedType: MessageView[];
}
/** Each message of a file by its full name (`.acai.v1.Creator.Parameters`), nested ones too. */
function messagesOf(file: FileView): Map<string, MessageView> {
  const out = new Map<string, MessageView>();
  const add = (scope: string, messages: MessageView[]) => {
    for (const m of messages) {
      out.set(`${scope}.${m.name}`, m);
      add(`${scope}.${m.name}`, m.nestedType);
    }
  };
  add(`.${file.package}`, file.messageType);
  return out;
}
function decodeFile(bytes: Buffer): FileView {
  const { FileDescriptorProto } = descriptors;
  return FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes), {
    defaults: true,
    arrays: true,
  }) as FileView;
}

function method(service: string, name: string): Method {
  const found = definition[service];
  if (found === undefined || 'format' in found) throw new Error(`no service ${service}`);
  const m = found[name];
  if (m === undefined) throw new Error(`no method ${service}/${name}`);
  return m;
}

/** A typed answer as proto-loader decodes it. */
type Answer = Record<string, unknown>;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: grpc.ServiceError };

function metadataOf(key: string | null): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (key !== null) metadata.set('authorization', `Bearer ${key}`);
  return metadata;
}

describe('the gRPC API', () => {
  let system: TestSystem;
  let client: grpc.Client;

  const call = <T = Answer>(
    service: string,
    name: string,
    request: object,
    key: string | null = system.key,
  ): Promise<Outcome<T>> => {
    const m = method(`acai.v1.${service}`, name);
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        metadataOf(key),
        (error, value) =>
          resolve(error ? { ok: false, error } : { ok: true, value: value as unknown as T }),
      );
    });
  };
  /** A unary call that must succeed: its answer, a typed message (fields by their proto names). */
  const json = async (
    service: string,
    name: string,
    request: object,
    key?: string,
  ): Promise<Answer> => {
    const outcome = await call(service, name, request, key);
    if (!outcome.ok) throw new Error(`${service}/${name}: ${outcome.error.message}`);
    return outcome.value;
  };
  const refused = async (
    service: string,
    name: string,
    request: object,
    key?: string | null,
  ): Promise<grpc.ServiceError> => {
    const outcome = await call(service, name, request, key);
    if (outcome.ok) throw new Error(`${service}/${name} succeeded`);
    return outcome.error;
  };
  /** A server stream's messages, or the error it ended with. */
  const stream = <T>(
    service: string,
    name: string,
    request: object,
    key: string = system.key,
  ): Promise<{
    messages: T[];
    /** When each message arrived (ms). */
    arrived: number[];
    error?: grpc.ServiceError;
    metadata?: grpc.Metadata;
  }> => {
    const m = method(service, name);
    return new Promise((resolve) => {
      const messages: T[] = [];
      const arrived: number[] = [];
      let metadata: grpc.Metadata | undefined;
      const s = client.makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        metadataOf(key),
      );
      s.on('metadata', (received: grpc.Metadata) => (metadata = received));
      s.on('data', (message: T) => {
        messages.push(message);
        arrived.push(Date.now());
      });
      s.on('error', (error: grpc.ServiceError) => resolve({ messages, arrived, error }));
      s.on('end', () => resolve({ messages, arrived, ...(metadata ? { metadata } : {}) }));
    });
  };
  const upload = (
    parts: ({ header: { sha256?: string; size?: number } } | { data: Buffer })[],
    key: string = system.key,
  ): Promise<Outcome<{ sha256: string; size: number }>> => {
    const m = method('acai.v1.Filesets', 'UploadBlob');
    return new Promise((resolve) => {
      const s = client.makeClientStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        metadataOf(key),
        (error, value) =>
          resolve(
            error
              ? { ok: false, error }
              : { ok: true, value: value as unknown as { sha256: string; size: number } },
          ),
      );
      void (async () => {
        for (const part of parts) {
          if (!s.write(part)) await new Promise((r) => s.once('drain', r));
        }
        s.end();
      })();
    });
  };
  const download = async (name: string, ref: string, file: string) => {
    const out = await stream<{ data: Buffer }>('acai.v1.Filesets', 'DownloadFile', {
      name,
      ref,
      path: file,
    });
    if (out.error) throw new Error(`DownloadFile: ${out.error.message}`);
    return { bytes: Buffer.concat(out.messages.map((m) => m.data)), metadata: out.metadata };
  };
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  beforeAll(async () => {
    system = await startSystem();
    client = new grpc.Client(system.grpcAddress, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
  });

  afterAll(async () => {
    client?.close();
    await system?.close();
  });

  it('answers health checks and lists its services by reflection', async () => {
    for (const service of ['', 'acai.v1.Runs', 'acai.v1.Filesets']) {
      const check = method('grpc.health.v1.Health', 'Check');
      const answer = await new Promise<{ status: string }>((resolve, reject) =>
        client.makeUnaryRequest(
          check.path,
          check.requestSerialize,
          check.responseDeserialize,
          { service },
          (error, value) => (error ? reject(error) : resolve(value as { status: string })),
        ),
      );
      expect(answer.status).toBe('SERVING');
    }

    const info = method('grpc.reflection.v1.ServerReflection', 'ServerReflectionInfo');
    const names = await new Promise<string[]>((resolve, reject) => {
      const s = client.makeBidiStreamRequest(
        info.path,
        info.requestSerialize,
        info.responseDeserialize,
      );
      s.on('data', (answer: { list_services_response?: { service?: { name: string }[] } }) => {
        resolve((answer.list_services_response?.service ?? []).map((x) => x.name));
        s.end();
      });
      s.on('error', reject);
      s.write({ list_services: '' });
    });
    // What grpcurl asks next: the file that defines a service, then each file it imports.
    type Reflected = {
      file_descriptor_response?: { file_descriptor_proto?: Buffer[] };
      error_response?: { error_message: string };
    };
    const ask = (request: object) =>
      new Promise<Reflected>((resolve, reject) => {
        const s = client.makeBidiStreamRequest(
          info.path,
          info.requestSerialize,
          info.responseDeserialize,
        );
        s.on('data', (answer: Reflected) => {
          resolve(answer);
          s.end();
        });
        s.on('error', reject);
        s.write(request);
      });
    const fileOf = async (request: object) => {
      const answer = await ask(request);
      expect(answer.error_response).toBeUndefined();
      const [bytes] = answer.file_descriptor_response?.file_descriptor_proto ?? [];
      return decodeFile(bytes!);
    };
    const runs = await fileOf({ file_containing_symbol: 'acai.v1.Runs' });
    expect(runs.service.map((s) => s.name)).toContain('Runs');
    // Answers are typed messages, not google.protobuf.Struct documents.
    const runMethods = runs.service.find((s) => s.name === 'Runs')?.method ?? [];
    expect(runMethods.find((m) => m.name === 'GetRun')?.outputType).toBe('.acai.v1.Run');
    expect(
      runs.service.flatMap((s) => s.method.filter((m) => m.outputType.includes('Struct'))),
    ).toEqual([]);
    // Every type it uses is in it or in a file it imports, and each import can be fetched.
    expect(runs.dependency.length).toBeGreaterThan(0);
    const imported = await Promise.all(
      runs.dependency.map((name) => fileOf({ file_by_filename: name })),
    );
    const defined = new Set([runs, ...imported].flatMap((f) => [...messagesOf(f).keys()]));
    const fields = [...messagesOf(runs).values()].flatMap((m) => m.field);
    for (const used of fields.map((f) => f.typeName)) {
      if (used !== '') expect(defined).toContain(used);
    }
    expect(names).toEqual(
      expect.arrayContaining([
        'acai.v1.Filesets',
        'acai.v1.Runs',
        'acai.v1.Jobs',
        'acai.v1.Lineage',
        'acai.v1.Resources',
        'acai.v1.Projects',
        'grpc.health.v1.Health',
      ]),
    );
  });

  it('checks the key as REST does: none, a bad one, a read-only one writing, another project', async () => {
    const none = await refused('Runs', 'ListRuns', {}, null);
    expect(none.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(none.details).toMatch(/Missing API key/);
    const bad = await refused('Runs', 'ListRuns', {}, 'acai_not-a-key');
    expect(bad.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bad.metadata.get('acai-reason')).toEqual(['API_KEY_INVALID']);

    const reader = await system.api('POST', '/api/v1/projects/default/keys', { scope: 'read' });
    const readKey = (reader.body as { key: string }).key;
    expect((await call('Runs', 'ListRuns', {}, readKey)).ok).toBe(true);
    const denied = await refused(
      'Filesets',
      'CreateFileset',
      { fileset: toStruct({ name: 'not-by-a-reader' }) },
      readKey,
    );
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.details).toMatch(/scope 'write'/);

    await json('Filesets', 'CreateFileset', { fileset: toStruct({ name: 'mine' }) });
    const other = await system.api('POST', '/api/v1/projects', { name: 'grpc-other' });
    const otherKey = (other.body as { key: string }).key;
    const hidden = await refused('Filesets', 'GetFileset', { name: 'mine' }, otherKey);
    expect(hidden.code).toBe(grpc.status.NOT_FOUND);
    const upload = await refused(
      'Filesets',
      'GetVersion',
      { name: 'mine', ref: 'latest' },
      otherKey,
    );
    expect(upload.code).toBe(grpc.status.NOT_FOUND);
  });

  it('maps errors to statuses, naming the field, for bad values and malformed messages', async () => {
    const badName = await refused('Filesets', 'CreateFileset', {
      fileset: toStruct({ name: 'Not A Name!' }),
    });
    expect(badName.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badName.details).toMatch(/name/);
    expect(JSON.parse(String(badName.metadata.get('acai-details')[0]))).toEqual([
      expect.objectContaining({ path: 'name' }),
    ]);

    const noSpec = await refused('Runs', 'SubmitRun', {});
    expect(noSpec.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noSpec.details).toMatch(/spec/);
    const badStep = await refused('Runs', 'SubmitRun', {
      spec: toStruct({ name: 'x', steps: [{ name: 'a' }] }),
    });
    expect(badStep.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badStep.details).toMatch(/steps\.0\.command/);

    await json('Filesets', 'CreateFileset', { fileset: toStruct({ name: 'twice' }) });
    const exists = await refused('Filesets', 'CreateFileset', {
      fileset: toStruct({ name: 'twice' }),
    });
    expect(exists.code).toBe(grpc.status.ALREADY_EXISTS);
    const parent = await refused('Filesets', 'CommitVersion', {
      name: 'twice',
      commit: toStruct({ parent: 7, put: [] }),
    });
    expect(parent.code).toBe(grpc.status.FAILED_PRECONDITION);
    const missingRun = await refused('Runs', 'GetRun', { id: 'run-00000000000000000000000' });
    expect(missingRun.code).toBe(grpc.status.NOT_FOUND);
    const badLimit = await refused('Runs', 'ListRuns', { limit: 100_000 });
    expect(badLimit.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badLimit.details).toMatch(/limit/);

    // Field 1 of GetRun's request (`id`, a string) sent as a number: not a message of its type.
    const getRun = method('acai.v1.Runs', 'GetRun');
    const malformed = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest(
        getRun.path,
        (bytes: Buffer) => bytes,
        getRun.responseDeserialize,
        Buffer.from([0x08, 0x05]),
        metadataOf(system.key),
        (error) => resolve(error!),
      ),
    );
    expect(malformed.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(malformed.details).toMatch(/field 'id'/);
  });

  it('uploads a 64 MiB file as a stream, commits it, and downloads the same bytes', async () => {
    const big = randomBytes(64 * 1024 * 1024);
    const chunks: { data: Buffer }[] = [];
    for (let at = 0; at < big.length; at += 1024 * 1024) {
      chunks.push({ data: big.subarray(at, at + 1024 * 1024) });
    }
    const started = Date.now();
    const stored = await upload(chunks);
    const uploadMs = Date.now() - started;
    if (!stored.ok) throw new Error(stored.error.message);
    expect(stored.value).toEqual({ sha256: sha256(big), size: big.length });

    // A stated sha256 the bytes do not have: refused, nothing kept.
    const small = Buffer.from('hello over gRPC\n');
    const wrong = await upload([
      { header: { sha256: sha256(big), size: small.length } },
      { data: small },
    ]);
    expect(wrong.ok).toBe(false);
    const right = await upload([
      { header: { sha256: sha256(small), size: small.length } },
      { data: small },
    ]);
    expect(right).toEqual({ ok: true, value: { sha256: sha256(small), size: small.length } });

    await json('Filesets', 'CreateFileset', {
      fileset: toStruct({ name: 'big', labels: ['grpc'], metadata: { team: 'a' } }),
    });
    const version = await json('Filesets', 'CommitVersion', {
      name: 'big',
      commit: toStruct({
        parent: 0,
        put: [
          { path: 'data/big.bin', sha256: sha256(big) },
          { path: 'hello.txt', sha256: sha256(small) },
        ],
      }),
    });
    expect(version['version']).toBe(1);

    const t0 = Date.now();
    const got = await download('big', '1', 'data/big.bin');
    const downloadMs = Date.now() - t0;
    expect(got.bytes.length).toBe(big.length);
    expect(sha256(got.bytes)).toBe(sha256(big));
    expect(got.metadata?.get('x-content-sha256')).toEqual([sha256(big)]);
    process.stdout.write(
      `gRPC 64 MiB: upload ${uploadMs} ms (${((64 / uploadMs) * 1000).toFixed(0)} MiB/s), download ${downloadMs} ms (${((64 / downloadMs) * 1000).toFixed(0)} MiB/s)\n`,
    );

    expect((await download('big', 'latest', 'hello.txt')).bytes.toString()).toBe(
      'hello over gRPC\n',
    );
    const missing = await stream('acai.v1.Filesets', 'DownloadFile', {
      name: 'big',
      ref: '1',
      path: 'nope.txt',
    });
    expect(missing.error?.code).toBe(grpc.status.NOT_FOUND);

    // The rest of the file set methods, on this version.
    expect((await json('Filesets', 'GetFileset', { name: 'big' }))['name']).toBe('big');
    expect((await json('Filesets', 'GetVersion', { name: 'big', ref: 'latest' }))['version']).toBe(
      1,
    );
    const files = await json('Filesets', 'ListFiles', { name: 'big', ref: '1', prefix: 'data/' });
    expect((files['items'] as { path: string }[]).map((f) => f.path)).toEqual(['data/big.bin']);
    await json('Filesets', 'ChangeMetadata', {
      name: 'big',
      change: toStruct({ op: 'merge', value: { stage: 'raw' } }),
    });
    await json('Filesets', 'ChangeLabels', {
      name: 'big',
      version: 1,
      change: toStruct({ add: ['prod'] }),
    });
    expect((await json('Filesets', 'GetVersion', { name: 'big', ref: 'prod' }))['version']).toBe(1);
    const second = await json('Filesets', 'CommitVersion', {
      name: 'big',
      commit: toStruct({ parent: 1, delete: ['hello.txt'] }),
    });
    expect(second['version']).toBe(2);
    const diff = await json('Filesets', 'DiffVersions', { name: 'big', from: '1', to: '2' });
    expect(diff['removed']).toEqual(['hello.txt']);
    await eventually('search to see the labels', async () => {
      const found = await json('Filesets', 'SearchFilesets', {
        query: [{ name: 'label', value: 'grpc' }],
      });
      const items = found['items'] as { name: string }[];
      return items.some((f) => f.name === 'big') ? items : undefined;
    });
    const versions = await json('Filesets', 'SearchVersions', {
      query: [{ name: 'label', value: 'prod' }],
    });
    expect(versions['items']).toEqual([expect.objectContaining({ fileset: 'big', version: 1 })]);

    const impact = await json('Lineage', 'GetImpact', { fileset: 'big', version: 1 });
    expect(impact).toEqual(
      expect.objectContaining({
        start: expect.objectContaining({ kind: 'version', fileset: 'big', version: 1 }),
        jobs: 0,
        items: [],
      }),
    );
    const noVersion = await refused('Lineage', 'GetImpact', { fileset: 'big' });
    expect(noVersion.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noVersion.details).toMatch(/version/);

    const lineage = await json('Lineage', 'GetLineage', { fileset: 'big', version: 1 });
    expect(lineage['start']).toEqual(expect.objectContaining({ fileset: 'big', version: 1 }));
    const noStart = await refused('Lineage', 'GetLineage', { direction: 'up' });
    expect(noStart.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noStart.details).toMatch(/fileset/);
  });

  it('runs: plan, submit, follow its logs and metrics to the end, get, list, history, cancel', async () => {
    const spec = {
      name: 'grpc-follow',
      steps: [
        {
          name: 'talk',
          command: [
            'sh',
            '-c',
            'for i in 1 2 3 4 5; do echo "line $i"; echo "##acai metric loss=0.$i step=$i"; sleep 0.4; done; echo done >&2',
          ],
        },
      ],
    };
    const plan = await json('Runs', 'PlanRun', { spec: toStruct(spec) });
    expect(plan['steps']).toEqual([
      expect.objectContaining({
        name: 'talk',
        needs: [],
        critical: true,
        basis: expect.any(String),
      }),
    ]);
    // The spec may come as the text of a JSON or YAML file instead of a Struct.
    const fromJson = await json('Runs', 'PlanRun', { spec_json: JSON.stringify(spec) });
    expect(fromJson['steps']).toEqual([expect.objectContaining({ name: 'talk' })]);
    const fromYaml = await json('Runs', 'PlanRun', {
      spec_yaml: 'name: y\nsteps:\n  - name: first\n    command: [echo, hi]\n',
    });
    expect(fromYaml['steps']).toEqual([expect.objectContaining({ name: 'first' })]);
    const notJson = await refused('Runs', 'PlanRun', { spec_json: '{"name": ' });
    expect(notJson.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(notJson.details).toMatch(/spec_json is not JSON/);
    const badYaml = await refused('Runs', 'SubmitRun', { spec_yaml: 'name: [unclosed' });
    expect(badYaml.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badYaml.details).toMatch(/spec_yaml is not valid YAML/);
    const submitted = await json('Runs', 'SubmitRun', { spec: toStruct(spec) });
    const runId = submitted['id'] as string;
    const jobId = (submitted['jobs'] as { id: string }[])[0]!.id;

    // Started while the job runs (or is queued): follows it to its end.
    const [logs, metrics] = await Promise.all([
      stream<{ line: string; stream: string; time: string }>('acai.v1.Jobs', 'StreamLogs', {
        id: jobId,
      }),
      stream<{ name: string; step?: number; value: number }>('acai.v1.Jobs', 'StreamMetrics', {
        id: jobId,
        name: 'loss',
      }),
    ]);
    expect(logs.error).toBeUndefined();
    expect(logs.messages.map((m) => m.line)).toEqual([
      ...[1, 2, 3, 4, 5].flatMap((i) => [`line ${i}`, `##acai metric loss=0.${i} step=${i}`]),
      'done',
    ]);
    expect(logs.messages.at(-1)?.stream).toBe('err');
    // Lines came as the job printed them (0.4 s apart), not all at once when it ended.
    expect(logs.arrived.at(-1)! - logs.arrived[0]!).toBeGreaterThan(1000);
    expect(metrics.error).toBeUndefined();
    expect(metrics.messages.map((m) => [m.name, m.step, m.value])).toEqual([
      ['loss', 1, 0.1],
      ['loss', 2, 0.2],
      ['loss', 3, 0.3],
      ['loss', 4, 0.4],
      ['loss', 5, 0.5],
    ]);

    const run = await json('Runs', 'GetRun', { id: runId });
    expect(run).toEqual(
      expect.objectContaining({
        id: runId,
        name: 'grpc-follow',
        status: 'succeeded',
        created_at: expect.any(String),
        jobs: [{ id: jobId, name: 'talk', status: 'succeeded' }],
      }),
    );
    const job = await json('Jobs', 'GetJob', { id: jobId });
    expect(job).toEqual(
      expect.objectContaining({
        id: jobId,
        run_id: runId,
        status: 'succeeded',
        command: spec.steps[0]!.command,
        attempt: expect.any(Number),
        exit_code: 0,
      }),
    );
    const history = await json('Jobs', 'GetJobHistory', { id: jobId });
    const events = history['items'] as { seq: number; type: string; data: unknown }[];
    expect(events.map((e) => e.type)).toContain('job.succeeded');
    // A typed envelope: its position as a number, its payload a Struct.
    expect(events[0]).toEqual(
      expect.objectContaining({ seq: expect.any(Number), data: { fields: expect.any(Object) } }),
    );
    const list = await json('Runs', 'ListRuns', { limit: 10 });
    expect((list['items'] as { id: string }[]).map((r) => r.id)).toContain(runId);
    // Not following: what there is, at once.
    const now = await stream<{ line: string }>('acai.v1.Jobs', 'StreamLogs', {
      id: jobId,
      follow: false,
    });
    expect(now.messages).toHaveLength(11);
    const ended = await refused('Runs', 'CancelRun', { id: runId });
    expect(ended.code).toBe(grpc.status.FAILED_PRECONDITION);

    const slow = await json('Runs', 'SubmitRun', {
      spec: toStruct({ name: 'grpc-cancel', steps: [{ name: 'wait', command: ['sleep', '60'] }] }),
    });
    await json('Runs', 'CancelRun', { id: slow['id'] as string });
    const cancelled = await system.waitForRun(slow['id'] as string);
    expect(cancelled.status).toBe('cancelled');
    const unknownJob = await stream('acai.v1.Jobs', 'StreamLogs', {
      id: 'job-00000000000000000000000',
    });
    expect(unknownJob.error?.code).toBe(grpc.status.NOT_FOUND);
  });

  it('a sweep: its trials, its timeline, why a job was not reused, its experiment graph', async () => {
    const submitted = await json('Runs', 'SubmitRun', {
      spec_json: JSON.stringify({
        name: 'grpc-sweep',
        steps: [
          {
            name: 'trial',
            command: ['sh', '-c', 'echo "##acai metric loss=$L step=1"'],
            sweep: {
              list: [{ L: '0.5' }, { L: '0.25' }],
              objective: { metric: 'loss', mode: 'min' },
            },
          },
        ],
      }),
    });
    const runId = submitted['id'] as string;
    const jobIds = (submitted['jobs'] as { id: string }[]).map((j) => j.id);
    await system.waitForRun(runId);

    const trials = await eventually('the best trial to be chosen', async () => {
      const view = await json('Runs', 'GetRunTrials', { id: runId });
      const [sweep] = view['sweeps'] as { completed: boolean }[];
      return sweep?.completed === true ? view : undefined;
    });
    expect(trials).toEqual({
      run_id: runId,
      sweeps: [
        expect.objectContaining({
          step: 'trial',
          objective: { metric: 'loss', mode: 'min' },
          completed: true,
          best: expect.objectContaining({ params: { L: '0.25' }, value: 0.25 }),
          trials: [
            expect.objectContaining({
              index: 1,
              params: { L: '0.5' },
              status: 'succeeded',
              objective: 0.5,
              last_metrics: { loss: { value: 0.5, step: 1 } },
            }),
            expect.objectContaining({ index: 2, params: { L: '0.25' }, objective: 0.25 }),
          ],
        }),
      ],
    });

    const timeline = await json('Runs', 'GetRunTimeline', { id: runId, limit: 2 });
    const entries = timeline['items'] as { seq: number; type: string; summary: string }[];
    expect(entries).toHaveLength(2);
    expect(entries[0]).toEqual(
      expect.objectContaining({ seq: expect.any(Number), summary: expect.any(String) }),
    );
    const rest = await json('Runs', 'GetRunTimeline', { id: runId, after: timeline['next'] });
    const types = [...entries, ...(rest['items'] as typeof entries)].map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['run.submitted', 'job.succeeded']));
    const badLimit = await refused('Runs', 'GetRunTimeline', { id: runId, limit: 5000 });
    expect(badLimit.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badLimit.details).toMatch(/limit/);

    const reuse = await json('Jobs', 'ExplainReuse', { id: jobIds[0]! });
    expect(reuse).toEqual(
      expect.objectContaining({
        job_id: jobIds[0],
        decision: expect.stringMatching(/^(reused|computed|unsigned)$/),
        reason: expect.any(String),
      }),
    );
    const noJob = await refused('Jobs', 'ExplainReuse', { id: 'job-00000000000000000000000' });
    expect(noJob.code).toBe(grpc.status.NOT_FOUND);

    const graph = await json('Lineage', 'GetExperimentGraph', { run: runId });
    expect(graph['run_id']).toBe(runId);
    expect((graph['operations'] as { job_id: string }[]).map((o) => o.job_id).sort()).toEqual(
      [...jobIds].sort(),
    );
    const badRun = await refused('Lineage', 'GetExperimentGraph', { run: 'not a run' });
    expect(badRun.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badRun.details).toMatch(/run/);
  });

  it('API keys and the storage budget, under the same admin rules as REST', async () => {
    const created = await json('Projects', 'CreateKey', {
      project: 'default',
      scope: 'read',
      name: 'grpc-reader',
    });
    expect(created).toEqual(
      expect.objectContaining({
        id: expect.any(String),
        project: 'default',
        name: 'grpc-reader',
        scope: 'read',
        key: expect.any(String),
        created_at: expect.any(String),
      }),
    );
    const readKey = created['key'] as string;
    const listed = await json('Projects', 'ListKeys', { project: 'default' });
    const keys = listed['items'] as { id: string; key?: string }[];
    expect(keys.map((k) => k.id)).toContain(created['id']);
    // The secret is shown once: a listed key has none.
    expect(keys.every((k) => k.key === undefined)).toBe(true);

    // A read key administers nothing; another project's keys are not there for this one.
    const denied = await refused('Projects', 'ListKeys', { project: 'default' }, readKey);
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    const elsewhere = await refused('Projects', 'ListKeys', { project: 'grpc-nowhere' });
    expect(elsewhere.code).toBe(grpc.status.NOT_FOUND);
    const noProject = await refused('Projects', 'ListKeys', {});
    expect(noProject.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noProject.details).toMatch(/project/);
    const badScope = await refused('Projects', 'CreateKey', { project: 'default', scope: 'root' });
    expect(badScope.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badScope.details).toMatch(/scope/);

    const budget = await json('Projects', 'GetStorageBudget', { project: 'default' }, readKey);
    expect(budget).toEqual(
      expect.objectContaining({ project: 'default', policy: expect.any(String) }),
    );
    const notByReader = await refused(
      'Projects',
      'SetStorageBudget',
      { project: 'default', bytes: 1000 },
      readKey,
    );
    expect(notByReader.code).toBe(grpc.status.PERMISSION_DENIED);
    const set = await json('Projects', 'SetStorageBudget', {
      project: 'default',
      bytes: 1_000_000,
      policy: 'lru',
    });
    expect(set).toEqual(
      expect.objectContaining({ project: 'default', budget_bytes: 1_000_000, policy: 'lru' }),
    );
    // `bytes` unset: no budget, as REST's null.
    const unset = await json('Projects', 'SetStorageBudget', { project: 'default' });
    expect(unset['budget_bytes']).toBeUndefined();
    const badAlpha = await refused('Projects', 'SetStorageBudget', {
      project: 'default',
      alpha: 2,
    });
    expect(badAlpha.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badAlpha.details).toMatch(/alpha/);

    const revoked = await json('Projects', 'RevokeKey', {
      project: 'default',
      id: created['id'] as string,
    });
    expect(revoked).toEqual(
      expect.objectContaining({ id: created['id'], revoked_at: expect.any(String) }),
    );
    const gone = await refused('Runs', 'ListRuns', {}, readKey);
    expect(gone.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('lists nodes and plans provisioning for a step', async () => {
    const nodes = await json('Resources', 'ListNodes', {});
    expect(nodes['items']).toEqual(expect.any(Array));
    const plan = await json('Resources', 'PlanProvisioning', {
      step: toStruct({ name: 'train', command: ['true'] }),
    });
    expect(plan).toEqual(
      expect.objectContaining({
        action: expect.stringMatching(/^(run|profile|impossible)$/),
        rule: expect.any(String),
        alternatives: expect.any(Array),
      }),
    );
    const bad = await refused('Resources', 'PlanProvisioning', { step: toStruct({ name: 'x' }) });
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/command/);
  });

  it('is UNAVAILABLE while the service behind a method is away', async () => {
    await system.stop('catalog');
    const away = await refused('Filesets', 'GetFileset', { name: 'big' });
    expect(away.code).toBe(grpc.status.UNAVAILABLE);
    expect(away.details).toMatch(/catalog service is not running/);
    await system.start('catalog');
  });
});

describe('the gRPC API and the rate limit', () => {
  let system: TestSystem;
  let client: grpc.Client;

  beforeAll(async () => {
    system = await startSystem({
      env: { ACAI_RATE_LIMIT_PER_SECOND: '0.01', ACAI_RATE_LIMIT_BURST: '2' },
    });
    client = new grpc.Client(system.grpcAddress, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await system?.close();
  });

  it('refuses calls past a key’s rate with RESOURCE_EXHAUSTED and retry-after', async () => {
    const listRuns = method('acai.v1.Runs', 'ListRuns');
    const once = () =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          listRuns.path,
          listRuns.requestSerialize,
          listRuns.responseDeserialize,
          {},
          metadataOf(system.key),
          (error) => resolve(error),
        ),
      );
    expect(await once()).toBeNull();
    expect(await once()).toBeNull();
    const third = await once();
    expect(third?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(Number(third?.metadata.get('retry-after')[0])).toBeGreaterThan(0);
  });
});
