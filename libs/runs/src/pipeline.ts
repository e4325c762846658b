import {
  AcaiError,
  DEFAULT_RESOURCES,
  RunProblems,
  type ErrorDetail,
  type PlannedJob,
  type Resources,
  type RunSpec,
} from '@acai/contracts';

export interface PlannedRun {
  readonly jobs: PlannedJob[];
}

/**
 * Checks a run spec's graph and orders its steps so every step comes after the steps it needs.
 * Unknown needs, duplicate names, self-dependencies and cycles are VALIDATION_FAILED errors that
 * name the offending field. `newJobId` is called once per step, in spec order.
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
  spec.steps.forEach((step, i) => details.push(...sizeParameterProblems(step, i)));
  if (details.length > 0) throw invalid(details);

  const order = topologicalOrder(spec);
  if (order.cycle !== undefined) {
    throw invalid([
      {
        path: 'steps',
        message: `the steps' needs form a cycle: ${order.cycle.join(' -> ')}`,
      },
    ]);
  }

  const ids = new Map(spec.steps.map((s) => [s.name, newJobId(s.name)]));
  const jobs = order.names.map((name): PlannedJob => {
    const step = spec.steps[index.get(name)!]!;
    const id = ids.get(name)!;
    const resources: Resources = { ...DEFAULT_RESOURCES, ...(step.resources ?? {}) };
    return {
      id,
      name,
      command: [...step.command],
      needs: [...new Set(step.needs ?? [])],
      env: { ...(step.env ?? {}) },
      resources,
      timeoutSeconds: step.timeoutSeconds ?? null,
      network: step.network ?? 'default',
      secrets: { ...(step.secrets ?? {}) },
      inputs: (step.inputs ?? []).map((i) => ({
        fileset: i.fileset,
        version: i.version,
        path: i.path ?? `inputs/${i.fileset}`,
      })),
      outputs: (step.outputs ?? []).map((o) => ({
        fileset: o.fileset,
        path: o.path ?? `outputs/${o.fileset}`,
        labels: o.labels ?? [],
        save: o.save ?? true,
      })),
      provision: step.provision ?? null,
    };
  });
  return { jobs };
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
function topologicalOrder(spec: RunSpec): { names: string[]; cycle?: string[] } {
  const needs = new Map(spec.steps.map((s) => [s.name, new Set(s.needs ?? [])]));
  const dependants = new Map<string, string[]>(spec.steps.map((s) => [s.name, []]));
  for (const step of spec.steps)
    for (const n of needs.get(step.name)!) dependants.get(n)!.push(step.name);
  const remaining = new Map(spec.steps.map((s) => [s.name, needs.get(s.name)!.size]));
  const ready = spec.steps.filter((s) => remaining.get(s.name) === 0).map((s) => s.name);
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
  if (names.length === spec.steps.length) return { names };
  return { names, cycle: findCycle(needs, new Set(names)) };
}

function findCycle(needs: Map<string, Set<string>>, done: Set<string>): string[] {
  // Every unfinished step needs another unfinished step, so walking needs must revisit a step.
  let current = [...needs.keys()].find((n) => !done.has(n))!;
  const seen: string[] = [];
  while (!seen.includes(current)) {
    seen.push(current);
    current = [...needs.get(current)!].find((n) => !done.has(n))!;
  }
  return [...seen.slice(seen.indexOf(current)), current];
}
