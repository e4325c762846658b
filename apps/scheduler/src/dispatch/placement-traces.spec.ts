import { describe, expect, it } from '@jest/globals';
import { currentTrace } from '@acai/eventing';
import { PlacementTraces } from './placement-traces.js';

describe('the traces of placements', () => {
  it('keeps each job’s until it is dispatched, and forgets the oldest past its bound', () => {
    const traces = new PlacementTraces(2);
    const trace = currentTrace();
    traces.remember('job-1', trace);
    traces.remember('job-2', trace);
    traces.remember('job-3', trace);
    expect(traces.of('job-1')).toBeUndefined();
    expect(traces.of('job-2')).toBe(trace);
    traces.forget('job-2');
    expect(traces.of('job-2')).toBeUndefined();
    expect(traces.of('job-3')).toBe(trace);
  });
});
