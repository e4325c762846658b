import { describe, expect, it } from '@jest/globals';
import type { NewEvent } from '@acai/contracts';
import { deciderSpec } from '@acai/testkit';
import { profileDecider, type ProfileCommand } from './profile.decider.js';

const spec = deciderSpec(profileDecider);

const RUN = 'run-0000000000000000000000001';
const OTHER_RUN = 'run-0000000000000000000000002';
const GRID = ['c5.large', 'c5.xlarge', 'c5.2xlarge'];

const awaitFor = (jobId: string, runId = RUN): ProfileCommand => ({
  kind: 'await_profiling',
  jobId,
  runId,
  configurations: GRID,
});
const started = (jobId: string): NewEvent => ({
  type: 'profile.profiling_started',
  data: { runId: RUN, jobId, configurations: GRID },
});
const waiting = (jobId: string): NewEvent => ({ type: 'profile.job_waiting', data: { jobId } });
const profiled: NewEvent = { type: 'profile.profiled', data: { runId: RUN, outcome: 'succeeded' } };

describe('a job profile', () => {
  describe('a job that needs profiling', () => {
    it('starts the profiling run when nothing is known of its profile, and waits for it', () => {
      spec
        .given([])
        .when(awaitFor('job-a'))
        .then([started('job-a'), waiting('job-a')]);
    });

    it('waits for the run already under way instead of starting another', () => {
      spec
        .given([started('job-a'), waiting('job-a')])
        .when(awaitFor('job-b', OTHER_RUN))
        .then([waiting('job-b')]);
    });

    it('waits once however often its queued event is delivered', () => {
      spec
        .given([started('job-a'), waiting('job-a')])
        .when(awaitFor('job-a', OTHER_RUN))
        .then([]);
    });

    it('does not wait once the profile is profiled: it is placed with what was learnt', () => {
      spec
        .given([started('job-a'), waiting('job-a'), profiled])
        .when(awaitFor('job-b', OTHER_RUN))
        .then([]);
    });
  });

  describe('a run that ends', () => {
    it('profiles the profile when it is its profiling run, whatever its outcome', () => {
      spec
        .given([started('job-a'), waiting('job-a')])
        .when({ kind: 'finish', runId: RUN, outcome: 'failed' })
        .then([{ type: 'profile.profiled', data: { runId: RUN, outcome: 'failed' } }]);
    });

    it('changes nothing when it is another run, or the end is delivered again', () => {
      spec
        .given([started('job-a'), waiting('job-a')])
        .when({ kind: 'finish', runId: OTHER_RUN, outcome: 'succeeded' })
        .then([]);
      spec
        .given([started('job-a'), waiting('job-a'), profiled])
        .when({ kind: 'finish', runId: RUN, outcome: 'succeeded' })
        .then([]);
      spec.given([]).when({ kind: 'finish', runId: RUN, outcome: 'succeeded' }).then([]);
    });
  });

  it('remembers the run and every job that waited, in order, to place them when it ends', () => {
    const state = spec.given([
      started('job-a'),
      waiting('job-a'),
      waiting('job-b'),
      waiting('job-c'),
      profiled,
    ]).state;

    expect(state).toEqual({
      status: 'profiled',
      runId: RUN,
      waiting: ['job-a', 'job-b', 'job-c'],
      outcome: 'succeeded',
    });
  });
});
