import type { CommandResult } from '@acai/contracts';

export type RunView = CommandResult<'getRun'>;
export type JobView = CommandResult<'getJob'>;

/** Rows as aligned columns (the last one unpadded). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** 55.0 MB, 1.2 kB, 12 B. */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 'B';
  for (const u of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = u;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** 4.2 s, 3 min 5 s, 1 h 2 min. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** $0.000389: dollars with enough digits to see a simulated cost. */
export function usd(n: number): string {
  if (n === 0) return '$0';
  return n >= 0.01 ? `$${n.toFixed(2)}` : `$${n.toPrecision(3).replace(/0+$/, '')}`;
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);

export function isRunEnded(run: Pick<RunView, 'status'>): boolean {
  return run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled';
}

/** Jobs ended of all (the run's progress in steps). */
export function jobsDone(run: RunView): { done: number; total: number } {
  return { done: run.jobs.filter((j) => ENDED.has(j.status)).length, total: run.jobs.length };
}

/** How far a running job is: `train 3/5` (steps or epochs as it reports them), or its status. */
export function jobProgress(
  name: string,
  progress: { step: number | null; totalSteps: number | null } | null | undefined,
): string {
  if (progress?.step === null || progress?.step === undefined) return name;
  return progress.totalSteps === null
    ? `${name} step ${progress.step}`
    : `${name} ${progress.step}/${progress.totalSteps}`;
}

/**
 * One line of a run's live progress: its jobs, what the running ones are at, its trials, the
 * predicted end, cost so far against its budget and its deadline.
 */
export function runProgressLine(
  run: RunView,
  running: ReadonlyMap<string, { step: number | null; totalSteps: number | null } | null>,
  now: number = Date.now(),
): string {
  const { done, total } = jobsDone(run);
  const parts = [`${run.name} ${run.status}`, `jobs ${done}/${total}`];
  const active = run.jobs.filter((j) => !ENDED.has(j.status) && j.status !== 'pending');
  if (active.length > 0) {
    parts.push(
      active
        .slice(0, 3)
        .map((j) =>
          j.status === 'running' ? jobProgress(j.name, running.get(j.id)) : `${j.name} ${j.status}`,
        )
        .join(', ') + (active.length > 3 ? ` +${active.length - 3}` : ''),
    );
  }
  for (const sweep of run.sweeps ?? []) {
    parts.push(
      `${sweep.step} trials ${sweep.succeeded + sweep.earlyStopped}/${sweep.trials}` +
        (sweep.earlyStopped > 0 ? ` (${sweep.earlyStopped} stopped early)` : ''),
    );
  }
  const limits = run.limits;
  if (limits !== undefined) {
    if (limits.predictedFinish !== null && !isRunEnded(run)) {
      parts.push(`ETA ${duration(Date.parse(limits.predictedFinish) - now)}`);
    }
    parts.push(
      `cost ${usd(limits.spent)}` + (limits.budget === null ? '' : ` of ${usd(limits.budget)}`),
    );
    if (limits.deadline !== null) {
      const left = Date.parse(limits.deadline) - now;
      parts.push(
        left >= 0 ? `deadline in ${duration(left)}` : `deadline passed ${duration(-left)} ago`,
      );
    }
  }
  return parts.join(' | ');
}

/** The jobs of a run as a table. */
export function runTable(run: RunView): string {
  return table(
    ['job', 'name', 'status', 'note'],
    run.jobs.map((j) => [
      j.id,
      j.name,
      j.status,
      j.reusedFrom !== undefined
        ? `reused ${j.reusedFrom}`
        : j.notNeeded !== undefined
          ? 'not needed (only reused steps read it)'
          : '',
    ]),
  );
}
