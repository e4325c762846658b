import { describe, expect, it } from '@jest/globals';
import { ec2Offers } from '@acai/provisioning';
import type { Ec2Instance } from './ec2.repository.js';
import { newNode, NodeBook, stateOf, type Ec2Node } from './node-book.js';
import { fleetNodeView } from './node-view.js';

const START = new Date('2026-03-01T12:00:00Z');
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);

function instance(id: string, state: Ec2Instance['state'] = 'pending'): Ec2Instance {
  return { id, instanceType: 'c5.large', state, launchedAt: START, tags: {} };
}

function node(id: string, fields: Partial<Ec2Node> = {}): Ec2Node {
  return { ...newNode(instance(id), 'ec2-c5-large', START, null), ...fields };
}

describe('NodeBook', () => {
  it('offers a booted free node before a booting one, then the most recently idle', () => {
    const book = new NodeBook();
    book.put(node('i-booting', { idleSince: at(9) }));
    book.put(node('i-old', { booted: true, idleSince: at(1) }));
    book.put(node('i-recent', { booted: true, idleSince: at(5) }));
    book.put(node('i-busy', { booted: true, jobId: 'job-1', started: true }));
    book.put(node('i-leaving', { booted: true, idleSince: at(8), terminating: true }));

    expect(book.freeInPool('ec2-c5-large')?.id).toBe('i-recent');
    expect(book.freeInPool('ec2-c5a-large')).toBeUndefined();
  });

  it('finds a job’s reservation unless its node is being terminated', () => {
    const book = new NodeBook();
    book.put(node('i-1', { jobId: 'job-1' }));
    book.put(node('i-2', { jobId: 'job-2', terminating: true }));

    expect(book.reservationOf('job-1')?.id).toBe('i-1');
    expect(book.reservationOf('job-2')).toBeUndefined();
    expect(book.active().map((n) => n.id)).toEqual(['i-1']);
  });

  it('names each node’s state from what it holds', () => {
    expect(stateOf(node('i', { jobId: 'job-1' }))).toBe('pending');
    expect(stateOf(node('i', { jobId: 'job-1', booted: true }))).toBe('running');
    expect(stateOf(node('i', { jobId: 'job-1', booted: true, started: true }))).toBe('busy');
    expect(stateOf(node('i', { idleSince: START }))).toBe('idle');
    expect(stateOf(node('i', { jobId: 'job-1', terminating: true }))).toBe('terminating');
  });

  it('adopts an instance with the launch time EC2 gave, or now when it gave none', () => {
    const adopted = newNode(
      { ...instance('i-1', 'running'), launchedAt: undefined },
      'p',
      at(3),
      at(3),
    );
    expect(adopted).toMatchObject({
      launchedAt: at(3),
      idleSince: at(3),
      booted: true,
      jobId: null,
    });
  });
});

describe('fleetNodeView', () => {
  it('shows a fleet node in the node list’s words, sized and priced by its offer', () => {
    const offer = ec2Offers().find((o) => o.name === 'c5.large');
    const book = new NodeBook();
    book.put(node('i-1', { jobId: 'job-1' }));
    const [view] = book.views();

    expect(fleetNodeView(view!, 'ec2', offer, null)).toEqual({
      id: 'i-1',
      provider: 'ec2',
      instanceType: 'c5.large',
      pool: 'ec2-c5-large',
      state: 'booting',
      cpu: offer?.vCpu,
      memoryMb: offer?.memoryMb,
      slots: 1,
      jobs: ['job-1'],
      pricePerHour: offer?.pricePerHour,
      launchedAt: START.toISOString(),
      lastSeenAt: null,
      limits: null,
    });
    expect(
      fleetNodeView({ ...view!, state: 'running' }, 'simulated', undefined, 'simulated'),
    ).toMatchObject({
      provider: 'simulated',
      state: 'busy',
      cpu: null,
      pricePerHour: null,
      limits: 'simulated',
    });
  });
});
