import { describe, expect, it } from '@jest/globals';
import type { ActiveAttempt } from './active-attempts.projection.js';
import { AttemptSightings, executorLost, lostAttempts, type Watch } from './lost-attempts.js';

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
const SECOND = 1000;
const LOST_AFTER = 120 * SECOND;

const attempt = (over: Partial<ActiveAttempt> = {}): ActiveAttempt => ({
  project: 'default',
  jobId: 'job-a',
  runId: 'run-1',
  attempt: 1,
  executor: 'node-a',
  startedAt: new Date(T0).toISOString(),
  startedBy: 'evt-1',
  ...over,
});

/** The watch at `now`, having started at T0, with heartbeats `seen[executor/job] = time`. */
const watch = (now: number, seen: Record<string, number> = {}, since = T0): Watch => ({
  now,
  lostAfterMs: LOST_AFTER,
  watchingSince: since,
  lastSeen: (executor, jobId) => seen[`${executor}/${jobId}`],
});

describe('lostAttempts', () => {
  it('keeps an attempt whose executor goes on reporting it, however long it runs', () => {
    const now = T0 + 10 * LOST_AFTER;

    expect(lostAttempts([attempt()], watch(now, { 'node-a/job-a': now - 5 * SECOND }))).toEqual([]);
  });

  it('gives up an attempt nobody has reported for the period, counting from the last report', () => {
    const seen = { 'node-a/job-a': T0 + 30 * SECOND };

    expect(lostAttempts([attempt()], watch(T0 + 30 * SECOND + LOST_AFTER - 1, seen))).toEqual([]);
    expect(lostAttempts([attempt()], watch(T0 + 30 * SECOND + LOST_AFTER, seen))).toEqual([
      { attempt: attempt(), silentMs: LOST_AFTER },
    ]);
  });

  it('counts a report of the job by another executor for nothing: only the attempt’s own executor runs it', () => {
    const now = T0 + 2 * LOST_AFTER;

    expect(lostAttempts([attempt()], watch(now, { 'node-b/job-a': now }))).toHaveLength(1);
  });

  it('gives an attempt that just started the whole period, even before its first heartbeat', () => {
    const started = T0 + 5 * LOST_AFTER;
    const fresh = attempt({ startedAt: new Date(started).toISOString() });

    expect(lostAttempts([fresh], watch(started + LOST_AFTER - 1))).toEqual([]);
    expect(lostAttempts([fresh], watch(started + LOST_AFTER))).toHaveLength(1);
  });

  it('gives every attempt the whole period again after a restart (what it had heard is gone)', () => {
    const restartedAt = T0 + 60 * LOST_AFTER;

    expect(lostAttempts([attempt()], watch(restartedAt + 1, {}, restartedAt))).toEqual([]);
    expect(lostAttempts([attempt()], watch(restartedAt + LOST_AFTER, {}, restartedAt))).toEqual([
      { attempt: attempt(), silentMs: LOST_AFTER },
    ]);
  });

  it('judges each attempt on its own', () => {
    const now = T0 + 3 * LOST_AFTER;
    const a = attempt({ jobId: 'job-a' });
    const b = attempt({ jobId: 'job-b', executor: 'node-b', attempt: 3 });

    expect(lostAttempts([a, b], watch(now, { 'node-b/job-b': now })).map((l) => l.attempt)).toEqual(
      [a],
    );
  });
});

describe('executorLost', () => {
  it('fails the job for that attempt only, saying what happened and what to do', () => {
    const failure = executorLost({ attempt: attempt({ attempt: 5 }), silentMs: 125_400 });

    expect(failure).toEqual({
      reason: 'executor_lost',
      message: expect.stringContaining('executor node-a stopped reporting the job 125 s ago'),
      exitCode: null,
      signal: null,
      durationMs: null,
      lastLines: [],
      attempt: 5,
    });
    expect(failure.message).toContain('this was its attempt 5');
    expect(failure.message).toContain('Submit the run again');
  });
});

describe('attempt sightings', () => {
  const windows = { windowMs: 3 * SECOND, listenMs: 1.5 * SECOND };

  it('tells alive, lost, or not known yet from each executor’s latest heartbeat and how long it has listened', () => {
    let now = T0;
    const sightings = new AttemptSightings(() => now);
    const longAgo = T0 - 60 * SECOND;
    // Listening for less than a heartbeat: a silent executor is not known to be gone yet.
    now = T0 + SECOND;
    expect(sightings.alive('node-a', 'job-1', longAgo, windows)).toBeUndefined();
    expect(sightings.knownInMs(windows.listenMs)).toBe(0.5 * SECOND);
    sightings.heard({ id: 'node-a', jobs: ['job-1'] });
    now = T0 + 3.5 * SECOND;
    expect(sightings.alive('node-a', 'job-1', longAgo, windows)).toBe(true);
    // Another executor's listing says nothing of this one's attempt.
    expect(sightings.alive('node-b', 'job-1', longAgo, windows)).toBe(false);
    // Silent for the window: gone.
    now = T0 + 5 * SECOND;
    expect(sightings.alive('node-a', 'job-1', longAgo, windows)).toBe(false);
    expect(sightings.knownInMs(windows.listenMs)).toBe(0);
    // After a reconnect, what was heard before counts no more, and silence is not known again.
    sightings.restart();
    expect(sightings.watchingSince).toBe(now);
    expect(sightings.alive('node-a', 'job-1', longAgo, windows)).toBeUndefined();
  });

  it('takes a job left out of its executor’s heartbeat since it started for let go (handed back as it stopped), and one from before for news to come', () => {
    let now = T0 + 10 * SECOND;
    const sightings = new AttemptSightings(() => now);
    const startedAt = now;
    sightings.heard({ id: 'node-a', jobs: [] });
    // Heard when it started, before it could list it: its next heartbeat will.
    expect(sightings.alive('node-a', 'job-1', startedAt, windows)).toBe(true);
    now += SECOND;
    sightings.heard({ id: 'node-a', jobs: ['job-1'] });
    expect(sightings.alive('node-a', 'job-1', startedAt, windows)).toBe(true);
    now += SECOND;
    sightings.heard({ id: 'node-a', jobs: [] });
    expect(sightings.alive('node-a', 'job-1', startedAt, windows)).toBe(false);
    expect(sightings.alive('node-a', 'job-1', Number.NaN, windows)).toBe(false);
  });

  it('forgets sightings older than asked', () => {
    let now = T0;
    const sightings = new AttemptSightings(() => now);
    sightings.heard({ id: 'node-a', jobs: ['job-1', 'job-2'] });
    now = T0 + 10 * SECOND;
    sightings.heard({ id: 'node-a', jobs: ['job-2'] });
    sightings.forgetOlderThan(5 * SECOND);
    expect(sightings.lastSeen('node-a', 'job-1')).toBeUndefined();
    expect(sightings.lastSeen('node-a', 'job-2')).toBe(now);
  });
});
