import { describe, expect, it } from '@jest/globals';
import {
  lookupLevels,
  mayLookUp,
  planReuse,
  type ReuseFinding,
  type ReusePlanKind,
  type ReusePlanStep,
} from './reuse-plan.js';

/** A step named `id` that reads every step it needs, unless `waitsOnly` says otherwise. */
function step(
  id: string,
  needs: string[] = [],
  more: Partial<Omit<ReusePlanStep, 'id' | 'needs'>> & { waitsOnly?: string[] } = {},
): ReusePlanStep {
  const { waitsOnly = [], ...rest } = more;
  return {
    id,
    name: id,
    needs: [...needs, ...waitsOnly],
    reads: needs,
    policy: 'auto',
    notReusable: null,
    ...rest,
  };
}

const intact = (jobId: string, times: Partial<ReuseFinding> = {}): ReuseFinding =>
  ({
    kind: 'found',
    jobId,
    problem: null,
    loadSeconds: null,
    computeSeconds: 60,
    ...times,
  }) as ReuseFinding;
const evicted = (jobId: string, computeSeconds = 60): ReuseFinding => ({
  kind: 'found',
  jobId,
  problem: `the earlier result of job ${jobId} is not intact (model@3: evicted), so it is computed again`,
  loadSeconds: null,
  computeSeconds,
});
const none: ReuseFinding = {
  kind: 'none',
  reason: 'no earlier job of the project had its signature',
};

/** given(the run's steps).when(what the lookups found).then(what each step does). */
function given(steps: ReusePlanStep[]) {
  return {
    when(findings: Record<string, ReuseFinding>) {
      const plan = planReuse(steps, new Map(Object.entries(findings)));
      return {
        plan,
        then(expected: Record<string, ReusePlanKind>) {
          expect(Object.fromEntries(plan.steps.map((s) => [s.name, s.kind]))).toEqual(expected);
          return plan;
        },
      };
    },
  };
}

const reasonOf = (plan: ReturnType<typeof planReuse>, name: string) =>
  plan.steps.find((s) => s.name === name)!.reason;

describe('the reuse plan at submit', () => {
  it('takes the last intact result of a chain and leaves the steps before it out (the backward pass)', () => {
    const plan = given([step('load'), step('clean', ['load']), step('train', ['clean'])])
      .when({ load: intact('j1'), clean: intact('j2'), train: intact('j3') })
      .then({ load: 'not_needed', clean: 'not_needed', train: 'reuse' });
    expect(plan.steps.find((s) => s.name === 'train')).toMatchObject({ from: 'j3' });
    expect(reasonOf(plan, 'clean')).toBe(
      "no step that runs needs its result ('train' takes an earlier result or is not needed either), so it is neither taken nor computed",
    );
    expect(plan.counts).toEqual({ reuse: 1, compute: 0, not_needed: 2, when_ready: 0 });
  });

  it('keeps an ancestor that a step computed again reads, and takes its result', () => {
    given([step('load'), step('clean', ['load']), step('train', ['clean'])])
      .when({ load: intact('j1'), clean: intact('j2'), train: none })
      .then({ load: 'not_needed', clean: 'reuse', train: 'compute' });
  });

  it('computes a step whose result was evicted, says so, and takes what it reads', () => {
    const plan = given([step('load'), step('clean', ['load']), step('train', ['clean'])])
      .when({ load: intact('j1'), clean: evicted('j2'), train: none })
      .then({ load: 'reuse', clean: 'compute', train: 'compute' });
    expect(reasonOf(plan, 'clean')).toBe(
      'the earlier result of job j2 is not intact (model@3: evicted), so it is computed again',
    );
  });

  it('neither computes nor takes an evicted ancestor when the step after it is taken', () => {
    given([step('load'), step('clean', ['load']), step('train', ['clean'])])
      .when({ load: intact('j1'), clean: evicted('j2'), train: intact('j3') })
      .then({ load: 'not_needed', clean: 'not_needed', train: 'reuse' });
  });

  it('decides later a step that reads what another step computes in this run', () => {
    const plan = given([
      step('load'),
      step('features', ['load']),
      step('labels', ['load']),
      step('train', ['features', 'labels']),
    ])
      .when({ load: intact('j1'), features: intact('j2'), labels: none })
      .then({ load: 'reuse', features: 'reuse', labels: 'compute', train: 'when_ready' });
    expect(reasonOf(plan, 'train')).toBe(
      "it reads what 'labels' computes in this run: whether an earlier result matches is known once it has committed it",
    );
  });

  it('computes a step its policy or nondeterminism keeps from reuse, whatever was found', () => {
    const plan = given([
      step('load', [], { policy: 'never', notReusable: 'its step says reuse: never' }),
      step('sample', ['load'], {
        notReusable: 'its step is marked nondeterministic (reuse: always would reuse it)',
      }),
    ])
      .when({})
      .then({ load: 'compute', sample: 'compute' });
    expect(reasonOf(plan, 'load')).toBe('its step says reuse: never');
  });

  it('keeps a step that is only waited for (run for what it does) before a step taken', () => {
    given([
      step('notify', [], { notReusable: 'it saves no outputs: it is run for what it does' }),
      step('train', [], { waitsOnly: ['notify'] }),
    ])
      .when({ train: intact('j3') })
      .then({ notify: 'compute', train: 'reuse' });
  });

  it('takes an intact result however long it takes to stage: its readers stage it either way', () => {
    // 120 s to stage against 5 s to compute: a result computed again is committed and staged from
    // the catalog by the steps that read it just the same, so computing would add 5 s, not save 115.
    const slow = intact('j1', { loadSeconds: 120, computeSeconds: 5 });
    const plan = given([step('resize'), step('train', ['resize'])])
      .when({ resize: slow, train: evicted('j2', 300) })
      .then({ resize: 'reuse', train: 'compute' });
    expect(reasonOf(plan, 'resize')).toBe('job j1 had the same signature and its result is intact');
    // After a step that must be computed again (600 s), the result is taken, and the step before
    // it is left out.
    given([step('prepare'), step('resize', ['prepare'])])
      .when({ prepare: evicted('j0', 600), resize: slow })
      .then({ prepare: 'not_needed', resize: 'reuse' });
  });

  it('plans a chain of 50,000 steps without recursion', () => {
    const steps = Array.from({ length: 50_000 }, (_, i) =>
      step(`s${i}`, i === 0 ? [] : [`s${i - 1}`]),
    );
    const plan = planReuse(steps, new Map(steps.map((s) => [s.id, intact(`j-${s.id}`)])));
    expect(plan.counts).toEqual({ reuse: 1, compute: 0, not_needed: 49_999, when_ready: 0 });
  });
});

describe('looking up a run’s signatures level by level', () => {
  const steps = [
    step('train', ['features', 'labels']),
    step('features', ['load']),
    step('labels', ['load']),
    step('load'),
  ];

  it('groups the steps by the latest step they need, in dependency order', () => {
    expect(lookupLevels(steps)).toEqual([['load'], ['features', 'labels'], ['train']]);
  });

  it('looks a step up once every step it reads has an earlier result', () => {
    const train = steps[0]!;
    const found = new Map<string, ReuseFinding>([['features', intact('j2')]]);
    expect(mayLookUp(train, found)).toBe(false);
    found.set('labels', none);
    expect(mayLookUp(train, found)).toBe(false);
    found.set('labels', intact('j3'));
    expect(mayLookUp(train, found)).toBe(true);
    expect(mayLookUp({ ...train, notReusable: 'its step says reuse: never' }, found)).toBe(false);
  });

  it('refuses steps that need each other', () => {
    expect(() => lookupLevels([step('a', ['b']), step('b', ['a'])])).toThrow(
      'the steps of the run need each other in a cycle',
    );
  });
});
