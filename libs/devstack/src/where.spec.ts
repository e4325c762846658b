import { describe, expect, it } from '@jest/globals';
import { whereThingsAre } from './where.js';

describe('whereThingsAre', () => {
  it('names every way in, and the key to sign in with', () => {
    const lines = whereThingsAre({
      gatewayUrl: 'http://127.0.0.1:8080/',
      grpcAddress: '127.0.0.1:50051',
      key: 'acai_dev_key',
      keyFile: '/home/me/.acai/default.key',
    });
    expect(lines).toEqual([
      'up. Where things are:',
      '  REST API:  http://127.0.0.1:8080/api/v1   (OpenAPI: http://127.0.0.1:8080/api/openapi.json, docs: http://127.0.0.1:8080/api/docs)',
      '  dashboard: http://127.0.0.1:8080/   (sign in with the key below)',
      '  gRPC:      127.0.0.1:50051   (e.g. grpcurl -plaintext 127.0.0.1:50051 list)',
      '  events:    http://127.0.0.1:8080/api/v1/events   (Server-Sent Events; event types: http://127.0.0.1:8080/api/asyncapi.json)',
      '  key:       acai_dev_key   (admin of project "default", kept in /home/me/.acai/default.key)',
      '  e.g.  npx acai login --url http://127.0.0.1:8080 --key "$(cat /home/me/.acai/default.key)"',
    ]);
  });
});
