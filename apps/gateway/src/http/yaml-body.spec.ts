import { describe, expect, it } from '@jest/globals';
import { AcaiError, CommonProblems } from '@acai/contracts';
import { parseYamlBody } from './yaml-body.js';

function refusal(text: string): AcaiError {
  try {
    parseYamlBody(text);
  } catch (error) {
    if (error instanceof AcaiError) return error;
    throw error;
  }
  throw new Error('parsed');
}

describe('a YAML body', () => {
  it('reads into the value the same spec sent as JSON would be', () => {
    const yaml = [
      'name: nightly',
      'steps:',
      '  - name: etl',
      '    command: [python, etl.py]',
      '    outputs: [{ fileset: data }]',
      '    retries: { max: 2, on: [nonzero_exit] }',
      '  - name: train',
      '    command: ["python", "train.py", "--lr", "0.1"]',
      '    inputs:',
      '      - step: etl',
      '        output: data',
      '    env: { EPOCHS: "3" }',
    ].join('\n');
    expect(parseYamlBody(yaml)).toEqual({
      name: 'nightly',
      steps: [
        {
          name: 'etl',
          command: ['python', 'etl.py'],
          outputs: [{ fileset: 'data' }],
          retries: { max: 2, on: ['nonzero_exit'] },
        },
        {
          name: 'train',
          command: ['python', 'train.py', '--lr', '0.1'],
          inputs: [{ step: 'etl', output: 'data' }],
          env: { EPOCHS: '3' },
        },
      ],
    });
  });

  it('is YAML 1.2: on, yes and no are strings, and dates stay strings', () => {
    expect(parseYamlBody('a: on\nb: yes\nc: no\nd: 2026-12-03\ne: true')).toEqual({
      a: 'on',
      b: 'yes',
      c: 'no',
      d: '2026-12-03',
      e: true,
    });
  });

  it('refuses what is not YAML, naming the line and column', () => {
    const error = refusal('name: x\nsteps: [\n  - a');
    expect(error.reason).toBe(CommonProblems.INVALID_REQUEST.reason);
    expect(error.message).toMatch(/^The body is not valid YAML \(line \d+, column \d+\): /);
  });

  it('refuses a repeated key and several documents', () => {
    expect(refusal('name: a\nname: b').message).toMatch(/not valid YAML.*(unique|Map keys)/i);
    expect(refusal('name: a\n---\nname: b').message).toMatch(/not valid YAML/);
  });

  it('refuses a document that expands too many aliases', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    expect(refusal(lines.join('\n')).message).toMatch(/not valid YAML/);
  });
});
