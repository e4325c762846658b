import { describe, expect, it } from '@jest/globals';
import type { NodeHeartbeat } from '@acai/contracts';
import type { Bus } from '@acai/eventing';
import type { NodeView, Provider } from '../providers/provider.js';
import { NodeRegistry } from './node-registry.js';

const beat = (over: Partial<NodeHeartbeat>): NodeHeartbeat => ({
  id: 'node-a',
  pool: 'local',
  provider: 'local',
  instanceType: null,
  cpu: 2,
  memoryMb: 4096,
  slots: 2,
  busy: 2,
  jobs: ['job-mine', 'job-theirs'],
  projects: { 'job-mine': 'mine', 'job-theirs': 'theirs' },
  startedAt: '2026-12-02T00:00:00.000Z',
  limits: 'cgroup-v2',
  ...over,
});

const booting: NodeView = {
  id: 'i-booting',
  provider: 'ec2',
  instanceType: 'c5.large',
  pool: 'ec2-c5-large',
  state: 'booting',
  cpu: 2,
  memoryMb: 4096,
  slots: 1,
  jobs: ['job-unknown'],
  pricePerHour: 0.085,
  launchedAt: null,
  lastSeenAt: null,
  limits: null,
};

function registry(): NodeRegistry {
  const provider = { nodes: () => [booting] } as unknown as Provider;
  return new NodeRegistry(
    {} as Bus,
    [provider],
    () => null,
    () => 1_000,
  );
}

describe('NodeRegistry.list', () => {
  it('lists every job to an admin (no project)', () => {
    const nodes = registry();
    nodes.heard(beat({}));
    expect(nodes.list().map((n) => n.jobs)).toEqual([['job-mine', 'job-theirs'], ['job-unknown']]);
  });

  it('lists a project only its own jobs, and none whose project was not said', () => {
    const nodes = registry();
    nodes.heard(beat({}));
    nodes.heard(beat({ id: 'node-old', jobs: ['job-legacy'], projects: {} }));
    const seen = nodes.list('mine');
    expect(seen.map((n) => [n.id, n.jobs])).toEqual([
      ['node-a', ['job-mine']],
      ['node-old', []],
      ['i-booting', []],
    ]);
    // The node is still shown busy: that it is used is not another project's secret, what is.
    expect(seen[0]?.state).toBe('busy');
  });
});
