import { describe, expect, it } from '@jest/globals';
import { bytes, duration, runProgressLine, runTable, table, usd, type RunView } from './format.js';

const run = (over: Partial<RunView> = {}): RunView => ({
  id: 'run-1',
  project: 'default',
  name: 'mnist',
  status: 'running',
  createdAt: '2026-12-05T01:00:00.000Z',
  updatedAt: '2026-12-05T01:00:00.000Z',
  jobs: [
    { id: 'job-1', name: 'etl', status: 'succeeded' },
    { id: 'job-2', name: 'train', status: 'running' },
    { id: 'job-3', name: 'evaluate', status: 'pending' },
  ],
  ...over,
});

describe('formatting', () => {
  const now = Date.parse('2026-12-05T01:00:00Z');

  it('says a run’s jobs, the running one’s epochs, ETA, cost against budget and deadline', () => {
    const line = runProgressLine(
      run({
        limits: {
          deadline: '2026-12-05T01:10:00Z',
          budget: 0.5,
          spent: 0.000389,
          predictedFinish: '2026-12-05T01:00:42Z',
          predictedCost: 0.001,
          budgetExhausted: null,
        },
      }),
      new Map([['job-2', { step: 3, totalSteps: 5 }]]),
      now,
    );
    expect(line).toBe(
      'mnist running | jobs 1/3 | train 3/5 | ETA 42.0 s | cost $0.000389 of $0.50 | deadline in 10 min 0 s',
    );
  });

  it('notes in the jobs table which job took an earlier result and which was not needed', () => {
    const lines = runTable(
      run({
        status: 'succeeded',
        jobs: [
          { id: 'job-1', name: 'etl', status: 'skipped', notNeeded: 'not needed: …' },
          { id: 'job-2', name: 'train', status: 'succeeded', reusedFrom: 'job-0' },
        ],
      }),
    ).split('\n');
    expect(lines[1]).toMatch(/^job-1 +etl +skipped +not needed \(only reused steps read it\)$/);
    expect(lines[2]).toMatch(/^job-2 +train +succeeded +reused job-0$/);
  });

  it('says a sweep’s trials', () => {
    const line = runProgressLine(
      run({
        sweeps: [
          {
            step: 'train',
            trials: 8,
            objective: null,
            completed: false,
            succeeded: 3,
            earlyStopped: 2,
            best: null,
          },
        ],
      }),
      new Map(),
      now,
    );
    expect(line).toContain('train trials 5/8 (2 stopped early)');
    expect(line).toContain('| train |');
  });

  it('formats sizes, times, money and tables', () => {
    expect(bytes(12)).toBe('12 B');
    expect(bytes(55_000_000)).toBe('55.0 MB');
    expect(duration(4200)).toBe('4.2 s');
    expect(duration(3_725_000)).toBe('1 h 2 min');
    expect(usd(0.000389)).toBe('$0.000389');
    expect(usd(12.5)).toBe('$12.50');
    expect(table(['a', 'bb'], [['xxx', 'y']])).toBe('a    bb\nxxx  y');
  });
});
