import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import protobuf from 'protobufjs';
import { z } from 'zod';
import { GRPC_SERVICES, PROTO_FILES, PROTO_LOAD_OPTIONS, PROTO_ROOT } from '@acai/contracts/proto';
import { Commands } from '@acai/contracts';
import { defOf, isFreeForm, snakeCase, toMessage, unwrap, type Message } from './messages.js';
import { GRPC_METHODS, type Guarded } from './methods.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(PROTO_ROOT, target);
root.loadSync([...PROTO_FILES], { keepCase: true });
root.resolveAll();

const RunViewSchema = Commands.getRun.response;
const JobViewSchema = Commands.getJob.response;
const FilesetViewSchema = Commands.getFileset.response;
const LineageViewSchema = Commands.getLineage.response;
type RunView = z.output<typeof RunViewSchema>;
type JobView = z.output<typeof JobViewSchema>;
type FilesetView = z.output<typeof FilesetViewSchema>;
type LineageView = z.output<typeof LineageViewSchema>;

const STRUCT = '.google.protobuf.Struct';
const INTEGER = new Set(['int64', 'int32', 'uint64', 'uint32', 'sint64', 'sint32']);

/** May the value be null or absent (its wrappers say so)? */
function mayBeAbsent(schema: z.ZodType): boolean {
  for (let s = schema; ;) {
    const def = defOf(s);
    if (def.type === 'nullable' || def.type === 'optional') return true;
    if (def.innerType === undefined) return false;
    s = def.innerType;
  }
}

/**
 * Where `type` cannot carry a value of `schema`: a field of the schema the message lacks (by its
 * snake_case name), or one whose proto type does not fit (a list not repeated, a nullable scalar
 * that is not `optional`, a fraction in an integer …), recursively.
 */
function gaps(schema: z.ZodType, type: protobuf.Type, at: string): string[] {
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape ?? {}).flatMap(([key, field]) => {
        const proto = type.fields[snakeCase(key)];
        return proto === undefined
          ? [`${at}.${key}: ${type.name} has no field ${snakeCase(key)}`]
          : fieldGaps(field, proto, `${at}.${key}`);
      });
    case 'union':
      return (def.options ?? []).flatMap((option) => gaps(option, type, at));
    case 'intersection':
      return [...gaps(def.left!, type, at), ...gaps(def.right!, type, at)];
    default:
      return [`${at}: a ${def.type} is not a message`];
  }
}

function fieldGaps(schema: z.ZodType, field: protobuf.Field, at: string): string[] {
  const def = defOf(unwrap(schema));
  if (def.type === 'array') {
    return field.repeated ? valueGaps(def.element!, field, `${at}[]`) : [`${at}: not repeated`];
  }
  if (def.type === 'record' && !isFreeForm(def.valueType!)) {
    return field instanceof protobuf.MapField && field.keyType === 'string'
      ? valueGaps(def.valueType!, field, `${at}{}`)
      : [`${at}: not a map<string, …>`];
  }
  if (field.repeated || field.map) return [`${at}: repeated, but one value`];
  const scalar = field.resolvedType === null;
  if (scalar && mayBeAbsent(schema) && field.partOf === null) {
    return [`${at}: may be null, so it must be an optional field`];
  }
  return valueGaps(schema, field, at);
}

function valueGaps(schema: z.ZodType, field: protobuf.Field, at: string): string[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  const nested = field.resolvedType;
  switch (def.type) {
    case 'object':
    case 'union':
    case 'intersection':
      return nested instanceof protobuf.Type && nested.fullName !== STRUCT
        ? gaps(inner, nested, at)
        : [`${at}: ${field.type} is not a message for it`];
    case 'record':
    case 'unknown':
    case 'any':
      return nested?.fullName === STRUCT ? [] : [`${at}: free-form JSON, so a Struct`];
    case 'string':
    case 'enum':
    case 'literal':
      return field.type === 'string' ? [] : [`${at}: ${field.type}, but a string`];
    case 'boolean':
      return field.type === 'bool' ? [] : [`${at}: ${field.type}, but a bool`];
    case 'number': {
      const whole = (inner as z.ZodNumber).format?.includes('int') === true;
      if (whole ? INTEGER.has(field.type) : field.type === 'double') return [];
      return [`${at}: ${field.type}, but ${whole ? 'an integer' : 'a double'}`];
    }
    default:
      return [`${at}: a ${def.type} cannot be mapped`];
  }
}

/** The gaps between a method's answer schema (its route's success body) and its message. */
function methodGaps(service: string, name: string, schema: z.ZodType): string[] {
  const method = root.lookupService(service).methods[name]!;
  const type = method.resolvedResponseType!;
  const def = defOf(unwrap(schema));
  if (def.type !== 'array') return gaps(schema, type, name);
  const items = type.fields['items'];
  return items === undefined
    ? [`${name}: a list, answered as a message with repeated items`]
    : fieldGaps(schema, items, `${name}.items`);
}

/** A message as a client decodes it, with the options every acai client uses. */
function onTheWire(typeName: string, message: Message): Record<string, unknown> {
  const type = root.lookupType(typeName);
  const bytes = type.encode(type.fromObject(message)).finish();
  return type.toObject(type.decode(bytes), PROTO_LOAD_OPTIONS);
}

const struct = (fields: Record<string, unknown>) => ({
  fields: Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [
      k,
      typeof v === 'string' ? { stringValue: v } : { numberValue: v },
    ]),
  ),
});

describe('typed gRPC answers', () => {
  it('has a method of the protos for each gRPC method bound to a route, and the reverse', () => {
    const declared = GRPC_SERVICES.flatMap((service) =>
      Object.keys(root.lookupService(service).methods).map((m) => `${service}/${m}`),
    );
    const bound = Object.entries(GRPC_METHODS).flatMap(([service, methods]) =>
      Object.keys(methods).map((m) => `${service}/${m}`),
    );
    expect(bound.sort()).toEqual(declared.sort());
  });

  it('carries every field of every unary answer: its message has a field of a fitting type', () => {
    const found: string[] = [];
    let checked = 0;
    for (const [service, methods] of Object.entries(GRPC_METHODS)) {
      for (const [name, route] of Object.entries<Guarded>(methods)) {
        const method = root.lookupService(service).methods[name]!;
        if (method.responseStream === true || typeof route.success.body === 'string') continue;
        found.push(...methodGaps(service, name, route.success.body));
        checked++;
      }
    }
    expect(found).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(30);
  });

  it('tells a field an answer gains that its message lacks, or a type that does not fit', () => {
    const grown = RunViewSchema.extend({
      owner: z.string(),
      limits: RunViewSchema.shape.limits.unwrap().extend({ overrun: z.number() }).optional(),
    });
    expect(methodGaps('acai.v1.Runs', 'GetRun', grown)).toEqual([
      'GetRun.limits.overrun: RunLimits has no field overrun',
      'GetRun.owner: Run has no field owner',
    ]);
    const changed = JobViewSchema.extend({ attempt: z.number(), pool: z.array(z.string()) });
    expect(methodGaps('acai.v1.Jobs', 'GetJob', changed)).toEqual([
      'GetJob.attempt: int64, but a double',
      'GetJob.pool: not repeated',
    ]);
  });

  it('maps a run field by field: nulls left unset, limits, sweeps and jobs typed', () => {
    const run: RunView = {
      id: 'run-1',
      project: 'p',
      name: 'train',
      status: 'running',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:01:00.000Z',
      jobs: [{ id: 'job-1', name: 'fit', status: 'running', reusedFrom: 'job-0' }],
      limits: {
        deadline: '2026-01-01T01:00:00.000Z',
        budget: null,
        spent: 0.25,
        predictedFinish: null,
        predictedCost: 1.5,
        budgetExhausted: null,
        running: [
          {
            jobId: 'job-1',
            name: 'fit',
            configuration: 'c5.large',
            step: 10,
            totalSteps: 100,
            predictedFinish: '2026-01-01T00:30:00.000Z',
            finishBy: null,
            predictedCost: 0.5,
            maxCost: null,
            late: false,
            rescales: 0,
          },
        ],
      },
      sweeps: [
        {
          step: 'fit',
          trials: 4,
          objective: { metric: 'loss', mode: 'min' },
          completed: false,
          succeeded: 1,
          earlyStopped: 2,
          best: null,
        },
      ],
      priority: 3,
    };
    expect(onTheWire('acai.v1.Run', toMessage(Commands.getRun.response, run))).toEqual({
      id: 'run-1',
      project: 'p',
      name: 'train',
      status: 'running',
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:01:00.000Z',
      jobs: [{ id: 'job-1', name: 'fit', status: 'running', reused_from: 'job-0' }],
      limits: {
        deadline: '2026-01-01T01:00:00.000Z',
        spent: 0.25,
        predicted_cost: 1.5,
        running: [
          {
            job_id: 'job-1',
            name: 'fit',
            configuration: 'c5.large',
            step: 10,
            total_steps: 100,
            predicted_finish: '2026-01-01T00:30:00.000Z',
            predicted_cost: 0.5,
            late: false,
            rescales: 0,
          },
        ],
      },
      sweeps: [
        {
          step: 'fit',
          trials: 4,
          objective: { metric: 'loss', mode: 'min' },
          completed: false,
          succeeded: 1,
          early_stopped: 2,
        },
      ],
      priority: 3,
    });
  });

  it('maps a file set with free-form metadata as a Struct and each kind of creator', () => {
    const fileset: FilesetView = {
      name: 'images',
      metadata: { team: 'vision', size: 3 },
      labels: ['raw'],
      latestVersion: 2,
      versions: [
        {
          fileset: 'images',
          version: 2,
          parent: 1,
          files: 1,
          bytes: 10,
          manifestSha256: 'ab',
          metadata: {},
          labels: [],
          pinned: true,
          evicted: false,
          createdBy: {
            kind: 'job',
            jobId: 'job-1',
            runId: 'run-1',
            step: 'fit',
            parameters: { LR: '0.1' },
            code: null,
          },
        },
      ],
    };
    expect(onTheWire('acai.v1.Fileset', toMessage(FilesetViewSchema, fileset))).toEqual({
      name: 'images',
      metadata: struct({ team: 'vision', size: 3 }),
      labels: ['raw'],
      latest_version: 2,
      versions: [
        {
          fileset: 'images',
          version: 2,
          parent: 1,
          files: 1,
          bytes: 10,
          manifest_sha256: 'ab',
          metadata: { fields: {} },
          labels: [],
          pinned: true,
          evicted: false,
          created_by: {
            kind: 'job',
            job_id: 'job-1',
            run_id: 'run-1',
            step: 'fit',
            parameters: { LR: '0.1' },
          },
        },
      ],
    });
  });

  it('maps a job and its history, each event a typed envelope around its payload', () => {
    const job: JobView = {
      id: 'job-1',
      project: 'p',
      runId: 'run-1',
      name: 'fit',
      status: 'failed',
      command: ['python', 'fit.py'],
      attempt: 2,
      pool: null,
      exitCode: 1,
      reason: 'exit',
      message: null,
      checkpoint: { fileset: 'ckpt', version: 3, step: null },
      createdAt: 't0',
      updatedAt: 't1',
      progress: null,
    };
    expect(onTheWire('acai.v1.Job', toMessage(JobViewSchema, job))).toEqual({
      id: 'job-1',
      project: 'p',
      run_id: 'run-1',
      name: 'fit',
      status: 'failed',
      command: ['python', 'fit.py'],
      attempt: 2,
      exit_code: 1,
      reason: 'exit',
      checkpoint: { fileset: 'ckpt', version: 3 },
      created_at: 't0',
      updated_at: 't1',
    });
    const history = toMessage(Commands.getJobHistory.response, [
      { seq: 7, type: 'job.failed', version: 1, time: 't1', data: { reason: 'exit' } },
    ]);
    expect(onTheWire('acai.v1.JobHistory', history)).toEqual({
      items: [
        { seq: 7, type: 'job.failed', version: 1, time: 't1', data: struct({ reason: 'exit' }) },
      ],
    });
  });

  it('maps lineage nodes of both kinds onto one message, with their depth', () => {
    const lineage: LineageView = {
      start: {
        kind: 'version',
        id: 'version:a@1',
        fileset: 'a',
        version: 1,
        bytes: null,
        files: 2,
        manifestSha256: null,
        createdBy: { kind: 'key', keyId: 'key-1' },
        evicted: false,
        pinned: false,
      },
      direction: 'down',
      depth: 10,
      items: [
        {
          kind: 'job',
          id: 'job:job-1',
          jobId: 'job-1',
          runId: null,
          step: 'fit',
          command: null,
          parameters: {},
          code: null,
          status: 'succeeded',
          durationMs: 1500,
          reusedFrom: null,
          depth: 1,
        },
      ],
      edges: [{ from: 'version:a@1', to: 'job:job-1', kind: 'input' }],
      nextCursor: null,
    };
    expect(onTheWire('acai.v1.LineageGraph', toMessage(LineageViewSchema, lineage))).toEqual({
      start: {
        kind: 'version',
        id: 'version:a@1',
        fileset: 'a',
        version: 1,
        files: 2,
        created_by: { kind: 'key', key_id: 'key-1', parameters: {} },
        evicted: false,
        pinned: false,
        command: [],
        parameters: {},
      },
      direction: 'down',
      depth: 10,
      items: [
        {
          kind: 'job',
          id: 'job:job-1',
          job_id: 'job-1',
          step: 'fit',
          // A null list is an empty one.
          command: [],
          parameters: {},
          status: 'succeeded',
          duration_ms: 1500,
          depth: 1,
        },
      ],
      edges: [{ from: 'version:a@1', to: 'job:job-1', kind: 'input' }],
    });
  });
});
