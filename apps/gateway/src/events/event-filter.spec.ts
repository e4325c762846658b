import { describe, expect, it } from '@jest/globals';
import { AcaiError, type RawEventEnvelope } from '@acai/contracts';
import { queryOf, Routes } from '../http/routes.js';
import { eventFilter, matchesFilter, startPosition } from './event-filter.js';

const event = (over: Partial<RawEventEnvelope>): RawEventEnvelope => ({
  id: 'e',
  type: 'job.succeeded',
  version: 1,
  project: 'default',
  aggregate: 'job',
  aggregateId: 'job-1',
  occurredAt: '2026-12-05T00:00:00.000Z',
  causationId: null,
  correlationId: 'run-1',
  data: {},
  ...over,
});
const filter = (query: Record<string, string>) => eventFilter(queryOf(Routes.streamEvents, query));

describe('the filters of GET /api/v1/events', () => {
  it('matches types and families', () => {
    const f = filter({ type: 'run.*, job.failed' });
    expect(matchesFilter(f, event({ type: 'run.failed', aggregate: 'run' }))).toBe(true);
    expect(matchesFilter(f, event({ type: 'job.failed' }))).toBe(true);
    expect(matchesFilter(f, event({ type: 'job.succeeded' }))).toBe(false);
  });

  it('takes a run’s jobs and a job’s run events, and nothing else', () => {
    const run = filter({ run: 'run-aaaaaaaaaaaaaaaaaaaaaaa' });
    const id = 'run-aaaaaaaaaaaaaaaaaaaaaaa';
    expect(matchesFilter(run, event({ aggregate: 'run', aggregateId: id }))).toBe(true);
    expect(matchesFilter(run, event({ correlationId: id }))).toBe(true);
    expect(matchesFilter(run, event({}))).toBe(false);
    const job = filter({ job: 'job-aaaaaaaaaaaaaaaaaaaaaaa' });
    const jobId = 'job-aaaaaaaaaaaaaaaaaaaaaaa';
    expect(matchesFilter(job, event({ aggregateId: jobId }))).toBe(true);
    const settled = event({ type: 'run.job_settled', aggregate: 'run', data: { jobId } });
    expect(matchesFilter(job, settled)).toBe(true);
    expect(matchesFilter(job, event({}))).toBe(false);
  });

  it('refuses what names nothing, and lets Last-Event-ID win over after', () => {
    const bads: Record<string, string>[] = [
      { type: 'job.nope' },
      { type: 'nope.*' },
      { run: 'x' },
      { after: '-1' },
    ];
    for (const bad of bads) {
      expect(() => filter(bad)).toThrow(AcaiError);
    }
    expect(startPosition(5, '9')).toBe(9);
    expect(startPosition(5, undefined)).toBe(5);
    expect(startPosition(undefined, undefined)).toBeNull();
    expect(() => startPosition(undefined, 'x')).toThrow('Last-Event-ID');
  });
});
