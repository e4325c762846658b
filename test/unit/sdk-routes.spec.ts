import { describe, expect, it } from '@jest/globals';
import { Endpoints } from '@acai/sdk';
import { Routes } from '../../apps/gateway/src/http/routes.js';

// The SDK's routes against the gateway's route table (the contract the OpenAPI document is made
// from): each method and path the SDK calls is one the gateway serves, under the same name.
describe('the SDK against the route table', () => {
  const served = Object.entries(Routes).map(([name, r]) => ({
    name,
    method: r.method,
    path: r.path,
  }));
  it.each(Object.entries(Endpoints))('%s is a route the gateway serves', (name, endpoint) => {
    const same = served.filter((r) => r.method === endpoint.method && r.path === endpoint.path);
    expect(same).not.toEqual([]);
    const byName = served.find((r) => r.name === name);
    if (byName !== undefined) expect(byName).toMatchObject(endpoint);
  });
});
