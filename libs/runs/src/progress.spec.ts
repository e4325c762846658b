import { describe, expect, it } from '@jest/globals';
import { estimateProgress, type ProgressPoint } from './progress.js';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
/** An epoch's metric line: loss and the declared total, at `seconds` after T0. */
const epoch = (step: number, seconds: number, attempt = 1, total = 10): ProgressPoint[] => [
  { name: 'loss', value: 1 / step, step, time: at(seconds), attempt },
  { name: 'steps_total', value: total, step, time: at(seconds), attempt },
];

describe('a running job’s progress', () => {
  it('predicts the end from the rate between its first and last reported steps', () => {
    // Loading took 30 s; then a step every 10 s: steps 1..4 by 60 s, 6 steps left = 60 s.
    const points = [...epoch(1, 30), ...epoch(2, 40), ...epoch(3, 50), ...epoch(4, 60)];
    const progress = estimateProgress({
      points,
      attempt: 1,
      startedAt: at(0),
      resumedAfterStep: 0,
    });
    expect(progress).toEqual({
      step: 4,
      totalSteps: 10,
      fraction: 0.4,
      stepsPerSecond: 0.1,
      predictedFinish: at(120),
      basis: 'step 4 of 10: 3 step(s) in 30.0 s since step 1 (0.100 steps/s)',
    });
  });

  it('measures a resumed attempt from its own steps, after its checkpoint', () => {
    // Attempt 1 ran steps 1-3 slowly; attempt 2 resumed after step 3 and did one step in 5 s.
    const points = [...epoch(1, 10), ...epoch(2, 30), ...epoch(3, 50), ...epoch(4, 105, 2)];
    const progress = estimateProgress({
      points,
      attempt: 2,
      startedAt: at(100),
      resumedAfterStep: 3,
    });
    expect(progress).toMatchObject({ step: 4, stepsPerSecond: 0.2, predictedFinish: at(135) });
    expect(progress?.basis).toContain('since the attempt’s start');
  });

  it('has no rate before the attempt has moved', () => {
    const progress = estimateProgress({
      points: epoch(3, 100, 2),
      attempt: 2,
      startedAt: at(100),
      resumedAfterStep: 3,
    });
    expect(progress).toMatchObject({ step: 3, stepsPerSecond: null, predictedFinish: null });
  });

  it('reads a progress metric (0 to 1) when the job declares no total', () => {
    const points: ProgressPoint[] = [
      { name: 'progress', value: 0.1, step: null, time: at(20), attempt: 1 },
      { name: 'progress', value: 0.3, step: null, time: at(40), attempt: 1 },
    ];
    expect(
      estimateProgress({ points, attempt: 1, startedAt: at(0), resumedAfterStep: 0 }),
    ).toMatchObject({ fraction: 0.3, totalSteps: null, predictedFinish: at(110) });
  });

  it('is nothing for a job that reports neither a total nor its progress', () => {
    const points = epoch(1, 10).filter((p) => p.name === 'loss');
    expect(
      estimateProgress({ points, attempt: 1, startedAt: at(0), resumedAfterStep: 0 }),
    ).toBeNull();
  });
});
