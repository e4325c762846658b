import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { declaredProblems } from '@acai/contracts';
import { statusOf } from '@acai/platform';

const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');

/** The rows of the doc's problem table, cells trimmed: reason, module, status, retryable, title. */
const rows = new Map(
  doc
    .slice(doc.indexOf('## Problems'))
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .map((cells) => [cells[0]!.replaceAll('`', ''), cells.slice(1)] as const),
);

describe('the problems in docs/errors.md', () => {
  it.each(declaredProblems().map((p) => [p.reason, p] as const))(
    'documents %s as the code declares it',
    (reason, problem) => {
      expect(rows.get(reason)).toEqual([
        problem.module,
        String(statusOf(problem.code)),
        problem.retryable ? 'yes' : 'no',
        problem.title,
      ]);
    },
  );

  it('documents no problem the code does not declare', () => {
    const declared = new Set(declaredProblems().map((p) => p.reason));
    expect([...rows.keys()].filter((reason) => !declared.has(reason))).toEqual([]);
  });
});
