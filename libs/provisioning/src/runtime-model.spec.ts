import { describe, expect, it } from '@jest/globals';
import { AcaiError, ErrorCode, ProvisioningProblems } from '@acai/contracts';
import {
  extrapolation,
  fitRuntimeModel,
  mape,
  memoryFloorMb,
  predictSeconds,
  type RuntimeModel,
  type RuntimeObservation,
} from './runtime-model.js';

function errorOf(run: () => unknown): AcaiError {
  try {
    run();
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('accepted, expected a refusal');
}

/** The job the tests profile: 100 s for one epoch on one CPU, `cpu^-0.9 · epochs^1`. */
const truth = (cpu: number, epochs: number) => 100 * cpu ** -0.9 * epochs;

function grid(
  cpus: number[],
  epochs: number[],
  noise: () => number = () => 1,
): RuntimeObservation[] {
  return cpus.flatMap((cpu) =>
    epochs.map((e) => ({ features: { cpu, EPOCHS: e }, seconds: truth(cpu, e) * noise() })),
  );
}

/** A seeded generator (mulberry32), so the noisy test is the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const coefficient = (model: RuntimeModel, feature: string): number => {
  const i = model.features.indexOf(feature);
  const b = model.coefficients[i];
  if (b === undefined) throw new Error(`no feature ${feature}`);
  return b;
};

describe('fitRuntimeModel', () => {
  it('recovers an exact power law: T = 100 · cpu^-0.9 · epochs', () => {
    const model = fitRuntimeModel(grid([1, 2, 4, 8], [1, 3, 10]));

    expect(model.features).toEqual(['EPOCHS', 'cpu']);
    expect(coefficient(model, 'cpu')).toBeCloseTo(-0.9, 4);
    expect(coefficient(model, 'EPOCHS')).toBeCloseTo(1, 4);
    expect(Math.exp(model.intercept)).toBeCloseTo(100, 1);
    expect(model.n).toBe(12);
    expect(model.mape).toBeLessThan(0.001);
    expect(model.underdetermined).toBe(false);
    expect(model.notes).toEqual([]);
  });

  it('predicts unseen configurations of that law within 1 %', () => {
    const model = fitRuntimeModel(grid([1, 2, 4, 8], [1, 3, 10]));

    for (const [cpu, epochs] of [
      [16, 5],
      [0.5, 2],
      [3, 30],
    ] as const) {
      const predicted = predictSeconds(model, { cpu, EPOCHS: epochs });
      expect(Math.abs(predicted / truth(cpu, epochs) - 1)).toBeLessThan(0.01);
    }
  });

  it('fits noisy runs close to the truth and reports their error', () => {
    const random = seeded(42);
    // ±10 % multiplicative noise, uniform.
    const observations = grid([1, 2, 4, 8, 16], [1, 2, 5, 10], () => 0.9 + 0.2 * random());
    const model = fitRuntimeModel(observations);

    expect(coefficient(model, 'cpu')).toBeCloseTo(-0.9, 1);
    expect(coefficient(model, 'EPOCHS')).toBeCloseTo(1, 1);
    expect(model.mape).toBeGreaterThan(0.01);
    expect(model.mape).toBeLessThan(0.1);
    expect(Math.abs(predictSeconds(model, { cpu: 4, EPOCHS: 3 }) / truth(4, 3) - 1)).toBeLessThan(
      0.1,
    );
  });

  it('gives a feature that never changed coefficient 0 and says why', () => {
    const observations = grid([1, 2, 4], [1, 5]).map((o) => ({
      ...o,
      features: { ...o.features, memoryMb: 2048 },
    }));
    const model = fitRuntimeModel(observations);

    expect(model.constantFeatures).toEqual(['memoryMb']);
    expect(coefficient(model, 'memoryMb')).toBe(0);
    expect(model.notes).toEqual([
      'memoryMb was 2048 in every observation, so its effect cannot be learned: coefficient 0 (predictions at other values of memoryMb ignore it)',
    ]);
    expect(model.underdetermined).toBe(false);
    expect(predictSeconds(model, { cpu: 2, EPOCHS: 5, memoryMb: 8192 })).toBeCloseTo(
      truth(2, 5),
      1,
    );
  });

  it('still fits with fewer observations than features + 1, and flags it underdetermined', () => {
    const model = fitRuntimeModel([
      { features: { cpu: 1, EPOCHS: 1 }, seconds: 100 },
      { features: { cpu: 4, EPOCHS: 2 }, seconds: 58 },
    ]);

    expect(model.underdetermined).toBe(true);
    expect(model.notes[0]).toContain('2 observations for 2 learnable features and an intercept');
    expect(model.coefficients.every(Number.isFinite)).toBe(true);
    // It passes through the points it has.
    expect(predictSeconds(model, { cpu: 1, EPOCHS: 1 })).toBeCloseTo(100, 0);
    expect(predictSeconds(model, { cpu: 4, EPOCHS: 2 })).toBeCloseTo(58, 0);
  });

  it('flags features that moved together, as on a grid of one instance family', () => {
    const observations = [1, 2, 4].map((cpu) => ({
      features: { cpu, memoryMb: 2048 * cpu },
      seconds: 100 * cpu ** -0.8,
    }));
    const model = fitRuntimeModel(observations);

    expect(model.underdetermined).toBe(true);
    expect(model.notes).toContain(
      'cpu and memoryMb moved together in every observation, so their separate effects cannot be told apart: the fit splits it between them',
    );
    // Along the direction it saw, the prediction still holds.
    expect(predictSeconds(model, { cpu: 8, memoryMb: 16384 })).toBeCloseTo(100 * 8 ** -0.8, 0);
  });

  it('fits a single observation as a constant', () => {
    const model = fitRuntimeModel([{ features: { cpu: 2 }, seconds: 30 }]);

    expect(model.constantFeatures).toEqual(['cpu']);
    expect(predictSeconds(model, { cpu: 8 })).toBeCloseTo(30, 6);
  });

  it('can fit a chosen subset of the features', () => {
    const observations = grid([1, 2, 4], [1, 3]).map((o) => ({
      ...o,
      features: { ...o.features, memoryMb: 1024 * (o.features.cpu ?? 1) },
    }));
    const model = fitRuntimeModel(observations, { features: ['cpu', 'EPOCHS'] });

    expect(model.features).toEqual(['EPOCHS', 'cpu']);
    expect(model.underdetermined).toBe(false);
  });

  it('is plain JSON: a stored model predicts the same', () => {
    const model = fitRuntimeModel(grid([1, 2, 4], [1, 2]));
    const stored = JSON.parse(JSON.stringify(model)) as RuntimeModel;

    expect(stored).toEqual(model);
    expect(predictSeconds(stored, { cpu: 3, EPOCHS: 7 })).toBe(
      predictSeconds(model, { cpu: 3, EPOCHS: 7 }),
    );
  });

  it('refuses no observations, a missing feature, and values it cannot take the log of', () => {
    expect(errorOf(() => fitRuntimeModel([])).message).toContain('without observations');
    const missing = errorOf(() =>
      fitRuntimeModel([
        { features: { cpu: 1, EPOCHS: 1 }, seconds: 10 },
        { features: { cpu: 2 }, seconds: 5 },
      ]),
    );
    expect(missing.reason).toBe(ProvisioningProblems.RUNTIME_MODEL_UNFIT.reason);
    expect(missing.code).toBe(ErrorCode.ValidationFailed);
    expect(missing.message).toContain('Observation 1 lacks feature EPOCHS');
    expect(errorOf(() => fitRuntimeModel([{ features: { cpu: 0 }, seconds: 5 }])).details).toEqual([
      { path: 'observations.0.features.cpu', message: 'must be a positive number' },
    ]);
    expect(
      errorOf(() => fitRuntimeModel([{ features: { cpu: 1 }, seconds: -5 }])).message,
    ).toContain('The runtime must be a positive number');
  });
});

describe('predictSeconds', () => {
  const model = fitRuntimeModel(grid([1, 2, 4], [1, 2]));

  it('names the features it was not given', () => {
    const error = errorOf(() => predictSeconds(model, { cpu: 2 }));

    expect(error.message).toBe(
      'Cannot predict the runtime without feature EPOCHS (the model uses EPOCHS, cpu)',
    );
    expect(error.details).toEqual([{ path: 'features.EPOCHS', message: 'missing' }]);
  });

  it('ignores features the model does not use', () => {
    expect(predictSeconds(model, { cpu: 2, EPOCHS: 1, LR: 0.1 })).toBeCloseTo(truth(2, 1), 2);
  });
});

describe('extrapolation', () => {
  it('says which features leave the profiled range', () => {
    const model = fitRuntimeModel(grid([1, 2, 4], [1, 2]));

    expect(extrapolation(model, { cpu: 2, EPOCHS: 2 })).toEqual([]);
    expect(extrapolation(model, { cpu: 64, EPOCHS: 1 })).toEqual([
      'cpu = 64 is outside the profiled 1–4',
    ]);
  });
});

describe('mape', () => {
  it('is the mean absolute error relative to the actual values', () => {
    expect(
      mape([
        { predicted: 110, actual: 100 },
        { predicted: 45, actual: 50 },
      ]),
    ).toBeCloseTo(0.1, 12);
    expect(mape([])).toBe(0);
  });

  it('refuses an actual value of zero', () => {
    expect(errorOf(() => mape([{ predicted: 1, actual: 0 }])).details).toEqual([
      { path: 'pairs.0.actual', message: 'must be a positive number' },
    ]);
  });
});

describe('memoryFloorMb', () => {
  it('has no floor for a job that never ran out of memory', () => {
    expect(memoryFloorMb([{ memoryMb: 512, outcome: 'succeeded' }])).toBeUndefined();
    expect(memoryFloorMb([])).toBeUndefined();
  });

  it('is the smallest memory that succeeded above every out-of-memory run', () => {
    expect(
      memoryFloorMb([
        { memoryMb: 256, outcome: 'out_of_memory' },
        { memoryMb: 512, outcome: 'out_of_memory' },
        { memoryMb: 4096, outcome: 'succeeded' },
        { memoryMb: 1024, outcome: 'succeeded' },
      ]),
    ).toEqual({ floorMb: 1024, outOfMemoryAtMb: 512, succeededAtMb: 1024 });
  });

  it('is just above the last out-of-memory run when nothing above it has succeeded yet', () => {
    expect(memoryFloorMb([{ memoryMb: 512, outcome: 'out_of_memory' }])).toEqual({
      floorMb: 513,
      outOfMemoryAtMb: 512,
      succeededAtMb: null,
    });
  });

  it('is not lowered by a success below an out-of-memory run', () => {
    expect(
      memoryFloorMb([
        { memoryMb: 512, outcome: 'succeeded' },
        { memoryMb: 1024, outcome: 'out_of_memory' },
        { memoryMb: 2048, outcome: 'succeeded' },
      ]),
    ).toEqual({ floorMb: 2048, outOfMemoryAtMb: 1024, succeededAtMb: 2048 });
  });
});
