import { describe, expect, it } from '@jest/globals';
import { parseCheckpointLine, parseMetricLine } from './metrics-protocol.js';

const T = '2026-11-26T00:00:00.000Z';

describe('the metric line protocol', () => {
  it('reads name=value pairs, with step applying to all of them', () => {
    expect(parseMetricLine('##acai metric loss=0.25 accuracy=0.91 step=3', T)).toEqual([
      { name: 'loss', value: 0.25, step: 3, time: T },
      { name: 'accuracy', value: 0.91, step: 3, time: T },
    ]);
  });

  it('reads the JSON form', () => {
    expect(parseMetricLine('##acai metric {"name":"val/loss","value":1e-3}', T)).toEqual([
      { name: 'val/loss', value: 0.001, step: null, time: T },
    ]);
  });

  it('leaves other lines alone', () => {
    expect(parseMetricLine('epoch 3 loss 0.25', T)).toBeUndefined();
  });

  it('says what is wrong with a malformed metric line', () => {
    expect(parseMetricLine('##acai metric loss=high', T)).toEqual({
      error: 'loss is not a number',
    });
    expect(parseMetricLine('##acai metric step=1.5 loss=1', T)).toEqual({
      error: 'step must be a whole number >= 0',
    });
    expect(parseMetricLine('##acai metric {"name":"x"}', T)).toEqual({
      error: 'expected {"name": string, "value": number, "step"?: integer}',
    });
    expect(parseMetricLine('##acai metric ', T)).toEqual({ error: 'no metric in the line' });
  });
});

describe('the checkpoint line protocol', () => {
  it('reads a checkpoint with or without the step it reached', () => {
    expect(parseCheckpointLine('##acai checkpoint step=3')).toEqual({ step: 3 });
    expect(parseCheckpointLine('##acai checkpoint')).toEqual({ step: null });
  });

  it('leaves other lines alone, metric lines and look-alikes included', () => {
    expect(parseCheckpointLine('##acai metric loss=1')).toBeUndefined();
    expect(parseCheckpointLine('##acai checkpointed')).toBeUndefined();
    expect(parseCheckpointLine('epoch 3 done')).toBeUndefined();
  });

  it('says what is wrong with a malformed checkpoint line', () => {
    expect(parseCheckpointLine('##acai checkpoint step=-1')).toEqual({
      error: "expected 'step=<whole number>', got 'step=-1'",
    });
    expect(parseCheckpointLine('##acai checkpoint epoch=2')).toHaveProperty('error');
  });
});
