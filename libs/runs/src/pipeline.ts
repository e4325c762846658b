import {
  AcaiError,
  DEFAULT_RESOURCES,
  RunProblems,
  type ErrorDetail,
  type PlannedJob,
  type PlannedSweep,
  type Resources,
  type RunSpec,
} from '@acai/contracts';
import { expandSweep, recordedRule, sweepProblems, trialName } from './sweep.js';

export interface PlannedRun {
  readonly jobs: PlannedJob[];
  /** The swept steps, each with its trials' job ids. */
  readonly sweeps: PlannedSweep[];
}

/**
 * Checks a run spec's graph and orders its steps so every step comes after the steps it needs.
 * An input naming another step's output (`{ step, output }`) implies needing that step. Unknown
 * needs, duplicate names, self-dependencies, an input of a step that is not there or does not
 * save that output, and cycles are VALIDATION_FAILED errors that name the step and the field.
 * A step with a `sweep` becomes one job per trial, named `<step>#<n>` (see `expandSweep`); a step
 * that takes its output needs it to have an objective, to choose the best trial's. `newJobId` is
 * called once per job, in spec order (a swept step's trials in trial order).
 */
export function planRun(spec: RunSpec, newJobId: (stepName: string) => string): PlannedRun {
  const details: ErrorDetail[] = [];
  const index = new Map<string, number>();
  spec.steps.forEach((step, i) => {
    if (index.has(step.name)) {
      details.push({ path: `steps.${i}.name`, message: `step name '${step.name}' is used twice` });
    } else {
      index.set(step.name, i);
    }
  });
  spec.steps.forEach((step, i) => {
    (step.needs ?? []).forEach((need, j) => {
      if (need === step.name) {
        details.push({
          path: `steps.${i}.needs.${j}`,
          message: `step '${step.name}' cannot need itself`,
        });
      } else if (!index.has(need)) {
        details.push({
          path: `steps.${i}.needs.${j}`,
          message: `step '${step.name}' needs '${need}', which is not a step of this run`,
        });
      }
    });
  });
  spec.steps.forEach((step, i) => {
    (step.inputs ?? []).forEach((input, j) => {
      if (!('step' in input)) return;
      const where = `steps.${i}.inputs.${j}`;
      const producer = index.has(input.step) ? spec.steps[index.get(input.step)!] : undefined;
      if (input.step === step.name) {
        details.push({
          path: `${where}.step`,
          message: `step '${step.name}' cannot take an input from its own output '${input.output}'`,
        });
      } else if (producer === undefined) {
        details.push({
          path: `${where}.step`,
          message: `step '${step.name}' takes an input from step '${input.step}', which is not a step of this run`,
        });
      } else if (producer.sweep !== undefined && producer.sweep.objective === undefined) {
        details.push({
          path: `${where}.step`,
          message: `step '${step.name}' takes output '${input.output}' of step '${input.step}', a sweep without an objective: give that sweep an objective { metric, mode }, whose best trial's output this step gets`,
        });
      } else if (
        !(producer.outputs ?? []).some((o) => o.fileset === input.output && o.save !== false)
      ) {
        details.push({
          path: `${where}.output`,
          message: `step '${step.name}' takes output '${input.output}' of step '${input.step}', which saves no such output (its outputs: ${
            (producer.outputs ?? [])
              .filter((o) => o.save !== false)
              .map((o) => o.fileset)
              .join(', ') || 'none'
          })`,
        });
      }
    });
  });
  spec.steps.forEach((step, i) => details.push(...sizeParameterProblems(step, i)));
  spec.steps.forEach((step, i) => details.push(...sweepProblems(step, i)));
  if (details.length > 0) throw invalid(details);

  const needs = new Map(spec.steps.map((s) => [s.name, effectiveNeeds(s)]));
  const order = topologicalOrder(spec.steps, needs);
  if (order.cycle !== undefined) {
    const [from, to] = order.cycle as [string, string];
    const i = index.get(from)!;
    const step = spec.steps[i]!;
    const need = (step.needs ?? []).indexOf(to);
    const input = (step.inputs ?? []).findIndex((x) => 'step' in x && x.step === to);
    throw invalid([
      {
        path: need >= 0 ? `steps.${i}.needs.${need}` : `steps.${i}.inputs.${input}.step`,
        message: `step '${from}' ${need >= 0 ? 'needs' : 'takes an input from'} '${to}', and the steps' needs form a cycle: ${order.cycle.join(' -> ')}`,
      },
    ]);
  }

  const trials = new Map(
    spec.steps.map((s) => [
      s.name,
      s.sweep === undefined
        ? [{ id: newJobId(s.name), name: s.name, params: null }]
        : expandSweep(s.sweep).map((params, k) => {
            const name = trialName(s.name, k + 1);
            return { id: newJobId(name), name, params };
          }),
    ]),
  );
  const sweeps = spec.steps.flatMap((step): PlannedSweep[] =>
    step.sweep === undefined
      ? []
      : [
          {
            step: step.name,
            trials: trials.get(step.name)!.map((t) => t.id),
            maxParallel: step.sweep.maxParallel ?? null,
            objective: step.sweep.objective ?? null,
            earlyStopping:
              step.sweep.earlyStopping === undefined
                ? null
                : recordedRule(step.sweep.earlyStopping),
          },
        ],
  );
  const jobs = order.names.flatMap((name) =>
    trials.get(name)!.map(({ id, name: jobName, params }, k): PlannedJob => {
      const step = spec.steps[index.get(name)!]!;
      const resources: Resources = { ...DEFAULT_RESOURCES, ...(step.resources ?? {}) };
      return {
        id,
        name: jobName,
        command: [...step.command],
        needs: [...needs.get(name)!],
        env: { ...(step.env ?? {}), ...(params ?? {}) },
        resources,
        timeoutSeconds: step.timeoutSeconds ?? null,
        network: step.network ?? 'default',
        secrets: { ...(step.secrets ?? {}) },
        inputs: (step.inputs ?? []).map((i) =>
          'step' in i
            ? { fileset: i.output, fromStep: i.step, path: i.path ?? `inputs/${i.output}` }
            : { fileset: i.fileset, version: i.version, path: i.path ?? `inputs/${i.fileset}` },
        ),
        outputs: (step.outputs ?? []).map((o) => ({
          fileset: o.fileset,
          path: o.path ?? `outputs/${o.fileset}`,
          labels: o.labels ?? [],
          save: o.save ?? true,
        })),
        provision: step.provision ?? null,
        retries: step.retries ?? null,
        continueOnFailure: step.continueOnFailure ?? spec.continueOnFailure ?? false,
        ...(step.quality === undefined ? {} : { quality: step.quality }),
        reuse: {
          policy: step.reuse ?? spec.reuse ?? 'auto',
          nondeterministic: step.nondeterministic ?? false,
          code: [...(step.code ?? [])],
        },
        ...(params === null
          ? {}
          : {
              trial: {
                step: name,
                index: k + 1,
                params: { ...params },
                objective: step.sweep?.objective ?? null,
              },
            }),
      };
    }),
  );
  return { jobs, sweeps };
}

/** What a step needs: its `needs` and the steps whose outputs it takes as inputs, once each. */
function effectiveNeeds(step: RunSpec['steps'][number]): Set<string> {
  return new Set([
    ...(step.needs ?? []),
    ...(step.inputs ?? []).flatMap((i) => ('step' in i ? [i.step] : [])),
  ]);
}

/**
 * The auto-provisioner predicts runtime from a step's size parameters (and varies those of
 * `profile` in its profiling runs): each must be set in the step's env to a positive number.
 */
function sizeParameterProblems(step: RunSpec['steps'][number], i: number): ErrorDetail[] {
  const provision = step.provision;
  if (provision === undefined) return [];
  const names = new Set([
    ...(provision.sizeParameters ?? []),
    ...Object.keys(provision.profile ?? {}),
  ]);
  const problems: ErrorDetail[] = [];
  for (const name of names) {
    const value = step.env?.[name];
    if (value === undefined || !(Number(value) > 0)) {
      problems.push({
        path: `steps.${i}.env.${name}`,
        message: `size parameter ${name} of step '${step.name}' must be set in its env to a positive number (it is ${value === undefined ? 'not set' : `'${value}'`})`,
      });
    }
  }
  for (const [name, values] of Object.entries(provision.profile ?? {})) {
    values.forEach((value, j) => {
      if (!(Number(value) > 0)) {
        problems.push({
          path: `steps.${i}.provision.profile.${name}.${j}`,
          message: `profiling value '${value}' of ${name} must be a positive number`,
        });
      }
    });
  }
  return problems;
}

function invalid(details: ErrorDetail[]): AcaiError {
  const first = details[0]!;
  return new AcaiError(
    RunProblems.RUN_SPEC_INVALID,
    `Invalid run spec: ${first.path}: ${first.message}`,
    details,
  );
}

/** Kahn's algorithm, stable in spec order; reports one cycle when there is one. */
function topologicalOrder(
  steps: RunSpec['steps'],
  needs: ReadonlyMap<string, ReadonlySet<string>>,
): { names: string[]; cycle?: string[] } {
  const dependants = new Map<string, string[]>(steps.map((s) => [s.name, []]));
  for (const step of steps)
    for (const n of needs.get(step.name)!) dependants.get(n)!.push(step.name);
  const remaining = new Map(steps.map((s) => [s.name, needs.get(s.name)!.size]));
  const ready = steps.filter((s) => remaining.get(s.name) === 0).map((s) => s.name);
  const names: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    names.push(name);
    for (const d of dependants.get(name)!) {
      const left = remaining.get(d)! - 1;
      remaining.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (names.length === steps.length) return { names };
  return { names, cycle: findCycle(needs, new Set(names)) };
}

function findCycle(needs: ReadonlyMap<string, ReadonlySet<string>>, done: Set<string>): string[] {
  // Every unfinished step needs another unfinished step, so walking needs must revisit a step.
  let current = [...needs.keys()].find((n) => !done.has(n))!;
  const seen: string[] = [];
  while (!seen.includes(current)) {
    seen.push(current);
    current = [...needs.get(current)!].find((n) => !done.has(n))!;
  }
  return [...seen.slice(seen.indexOf(current)), current];
}
