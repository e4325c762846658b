import { describe, expect, it } from '@jest/globals';
import { openApiDocument } from './document.js';

type Operation = {
  operationId: string;
  'x-acai-scope': string;
  responses: Record<string, unknown>;
  security?: unknown[];
};

const operations = Object.values(
  openApiDocument()['paths'] as Record<string, Record<string, Operation>>,
).flatMap((ops) => Object.values(ops));

describe('the OpenAPI document says who may call each operation', () => {
  it('names the scope of every operation and documents the refusals it implies', () => {
    for (const op of operations) {
      const scope = op['x-acai-scope'];
      const refusals = ['401', '403', '429'].filter((s) => s in op.responses);
      const expected =
        scope === 'public' ? [] : scope === 'read' ? ['401', '429'] : ['401', '403', '429'];
      expect([op.operationId, scope, refusals]).toEqual([op.operationId, scope, expected]);
    }
  });

  it('marks only the public operations as needing no key', () => {
    const open = operations.filter((op) => op.security?.length === 0).map((op) => op.operationId);
    const pub = operations
      .filter((op) => op['x-acai-scope'] === 'public')
      .map((op) => op.operationId);
    expect(open).toEqual(pub);
    expect(pub.sort()).toEqual(['apiDocs', 'apiDocsAssets', 'asyncApi', 'openApi']);
  });
});
