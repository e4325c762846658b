import { describe, expect, it } from '@jest/globals';
import {
  crossValidatedError,
  extrapolatedSizes,
  fitCpuCurveModel,
  predictCpuCurve,
} from './cpu-curve-model.js';
import { fitRuntimeModel, predictSeconds } from './runtime-model.js';

/** MNIST training as measured here: 2× slower at half a core, 1.6× faster with two threads. */
function mnist(cpu: number, epochs: number): number {
  const perEpoch = cpu <= 1 ? 1.7 / cpu : 1.7 / (1 + 0.6 * (Math.min(cpu, 2) - 1));
  return 1.2 + perEpoch * epochs;
}

const profiled = [
  { features: { cpu: 0.5, EPOCHS: 1 }, seconds: mnist(0.5, 1) },
  { features: { cpu: 1, EPOCHS: 1 }, seconds: mnist(1, 1) },
  { features: { cpu: 1.5, EPOCHS: 1 }, seconds: mnist(1.5, 1) },
  { features: { cpu: 2, EPOCHS: 1 }, seconds: mnist(2, 1) },
  { features: { cpu: 2, EPOCHS: 2 }, seconds: mnist(2, 2) },
];

describe('the CPU-curve runtime model', () => {
  it('is exact at the CPU counts it measured, where one log-linear slope is not', () => {
    const curve = fitCpuCurveModel(profiled);
    const line = fitRuntimeModel(profiled);
    for (const cpu of [0.5, 1, 1.5, 2]) {
      expect(predictCpuCurve(curve, { cpu, EPOCHS: 1 })).toBeCloseTo(mnist(cpu, 1), 4);
    }
    const lineError = Math.abs(predictSeconds(line, { cpu: 1, EPOCHS: 1 }) / mnist(1, 1) - 1);
    expect(lineError).toBeGreaterThan(0.05);
    expect(curve.mape).toBeLessThan(1e-4);
  });

  it('scales with a size parameter log-linearly, as ACAI does, and shares that across CPUs', () => {
    const curve = fitCpuCurveModel(profiled);
    expect(curve.sizeFeatures).toEqual(['EPOCHS']);
    // Exact where measured: EPOCHS 1 and 2 on two CPUs.
    expect(predictCpuCurve(curve, { cpu: 2, EPOCHS: 2 })).toBeCloseTo(mnist(2, 2), 4);
    // Beyond, a power law through a fixed overhead plus work per epoch bends too early: from
    // EPOCHS 1 and 2 to 5 it predicts 25% short. Profiling closer to the real size narrows that.
    const predicted = predictCpuCurve(curve, { cpu: 2, EPOCHS: 5 });
    expect(predicted).toBeGreaterThan(mnist(2, 2));
    expect(predicted).toBeLessThan(mnist(2, 5));
    // The same slope applies on every CPU count: their ratio does not depend on the size.
    const ratio = (e: number) =>
      predictCpuCurve(curve, { cpu: 0.5, EPOCHS: e }) /
      predictCpuCurve(curve, { cpu: 2, EPOCHS: e });
    expect(ratio(5)).toBeCloseTo(ratio(1), 9);
  });

  it('interpolates between CPU counts and extrapolates no faster than linearly, never slower', () => {
    const curve = fitCpuCurveModel(profiled.filter((o) => o.features.cpu !== 1));
    const at1 = predictCpuCurve(curve, { cpu: 1, EPOCHS: 1 });
    expect(at1).toBeLessThan(mnist(0.5, 1));
    expect(at1).toBeGreaterThan(mnist(1.5, 1));
    const at8 = predictCpuCurve(curve, { cpu: 8, EPOCHS: 1 });
    expect(at8).toBeLessThanOrEqual(mnist(2, 1));
    expect(at8).toBeGreaterThanOrEqual(mnist(2, 1) / 4);
    expect(predictCpuCurve(curve, { cpu: 0.25, EPOCHS: 1 })).toBeLessThanOrEqual(
      mnist(0.5, 1) * 2 + 1e-9,
    );
  });

  it('says when a size parameter never varied, and needs two CPU counts', () => {
    const flat = fitCpuCurveModel(profiled.filter((o) => o.features.EPOCHS === 1));
    expect(flat.slopes).toEqual([0]);
    expect(flat.notes[0]).toContain('EPOCHS had one value');
    expect(() => fitCpuCurveModel(profiled.filter((o) => o.features.cpu === 2))).toThrow(
      'at least two CPU counts',
    );
  });

  it('owns up to its error on unseen runs, where the error on its own runs says nothing', () => {
    const curve = fitCpuCurveModel(profiled);
    // Fitted exactly on its five runs...
    expect(curve.mape).toBeLessThan(1e-4);
    // ...but each run predicted by the model of the other four is 21% off on average,
    const expected = crossValidatedError(profiled)!;
    expect(expected).toBeGreaterThan(0.15);
    // which is the size of the error it then makes on the real job (EPOCHS 5 on one CPU).
    const actual = Math.abs(predictCpuCurve(curve, { cpu: 1, EPOCHS: 5 }) / mnist(1, 5) - 1);
    expect(actual).toBeGreaterThan(expected / 2);
    expect(actual).toBeLessThan(expected * 2);
    // With two runs on one CPU count, nothing can be left out.
    expect(crossValidatedError(profiled.slice(0, 2))).toBeUndefined();
  });

  it('names the size parameters a prediction extrapolates to, with the range it measured', () => {
    expect(extrapolatedSizes(profiled, { EPOCHS: 5 })).toEqual([
      { feature: 'EPOCHS', value: 5, min: 1, max: 2 },
    ]);
    expect(extrapolatedSizes(profiled, { EPOCHS: 2 })).toEqual([]);
  });
});
