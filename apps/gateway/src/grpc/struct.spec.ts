import { describe, expect, it } from '@jest/globals';
import { isProblem, CommonProblems } from '@acai/contracts';
import { MAX_JSON_DEPTH } from '../http/routes.js';
import { fromStruct, toStruct, type StructMessage } from './struct.js';

describe('google.protobuf.Struct and JSON', () => {
  it('carries a document both ways unchanged', () => {
    const document = {
      name: 'train',
      steps: [{ name: 'a', command: ['echo', 'hi'], resources: { cpu: 2, gpu: 0 } }],
      pinned: false,
      parent: null,
      ratio: 0.25,
    };
    expect(fromStruct(toStruct(document), 'spec')).toEqual(document);
  });

  it('answers a list as { items }', () => {
    expect(fromStruct(toStruct([{ type: 'job.queued' }]), 'answer')).toEqual({
      items: [{ type: 'job.queued' }],
    });
  });

  it('refuses a value with no kind, naming where it is', () => {
    const struct: StructMessage = { fields: { steps: { listValue: { values: [{}] } } } };
    expect(() => fromStruct(struct, 'spec')).toThrow(/spec\.steps\.0/);
  });

  it('refuses nesting deeper than a REST body may, naming the field', () => {
    let value: unknown = 'leaf';
    for (let i = 0; i < MAX_JSON_DEPTH + 2; i++) value = { deeper: value };
    let caught: unknown;
    try {
      fromStruct(toStruct(value), 'spec');
    } catch (error) {
      caught = error;
    }
    expect(isProblem(caught, CommonProblems.INVALID_REQUEST)).toBe(true);
    expect(String(caught)).toMatch(/spec\.deeper\.deeper/);
  });
});
