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
  // GET /api/v1/events (the SSE contract) is being added to the table on the `events` branch:
  // until it is there, it is the one SDK route allowed to be missing; once there, it is checked.
  const notYetInTheTable = new Set(['streamEvents']);

  it.each(Object.entries(Endpoints))('%s is a route the gateway serves', (name, endpoint) => {
    const same = served.filter((r) => r.method === endpoint.method && r.path === endpoint.path);
    if (same.length === 0 && notYetInTheTable.has(name)) return;
    expect(same).not.toEqual([]);
    const byName = served.find((r) => r.name === name);
    if (byName !== undefined) expect(byName).toMatchObject(endpoint);
  });
});
