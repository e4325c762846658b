import type { MetricPoint } from '@acai/contracts';

/** The prefix of a metric line on a job's stdout. */
export const METRIC_PREFIX = '##acai metric ';

/**
 * Reads one metric line, in either form a job may print:
 *   `##acai metric loss=0.25 accuracy=0.91 step=3`   (numbers; `step` applies to all of them)
 *   `##acai metric {"name": "loss", "value": 0.25, "step": 3}`
 * Answers the points, nothing for other lines, or an error message for a malformed metric line.
 */
export function parseMetricLine(
  line: string,
  time: string,
): MetricPoint[] | { error: string } | undefined {
  if (!line.startsWith(METRIC_PREFIX)) return undefined;
  const body = line.slice(METRIC_PREFIX.length).trim();
  if (body.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { error: 'not JSON' };
    }
    const p = parsed as { name?: unknown; value?: unknown; step?: unknown };
    if (
      typeof p.name !== 'string' ||
      p.name === '' ||
      typeof p.value !== 'number' ||
      !Number.isFinite(p.value)
    ) {
      return { error: 'expected {"name": string, "value": number, "step"?: integer}' };
    }
    const step = stepOf(p.step);
    if (step === false) return { error: 'step must be a whole number >= 0' };
    return [{ name: p.name.slice(0, 200), value: p.value, step, time }];
  }
  const pairs = body.split(/\s+/).filter((t) => t !== '');
  let step: number | null = null;
  const values: [string, number][] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { error: `'${pair}' is not name=value` };
    const name = pair.slice(0, eq);
    const value = Number(pair.slice(eq + 1));
    if (!Number.isFinite(value)) return { error: `${name} is not a number` };
    if (name === 'step') {
      const s = stepOf(value);
      if (s === false) return { error: 'step must be a whole number >= 0' };
      step = s;
    } else {
      values.push([name.slice(0, 200), value]);
    }
  }
  if (values.length === 0) return { error: 'no metric in the line' };
  return values.map(([name, value]) => ({ name, value, step, time }));
}

function stepOf(value: unknown): number | null | false {
  if (value === undefined || value === null) return null;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : false;
}

/** The prefix of a checkpoint line: the job saved its state in `ACAI_CHECKPOINT_DIR`. */
export const CHECKPOINT_PREFIX = '##acai checkpoint';

/**
 * Reads a checkpoint line, `##acai checkpoint` or `##acai checkpoint step=3`. Answers the step it
 * names (null when none), nothing for other lines, or an error message for a malformed one.
 */
export function parseCheckpointLine(
  line: string,
): { step: number | null } | { error: string } | undefined {
  if (line !== CHECKPOINT_PREFIX && !line.startsWith(`${CHECKPOINT_PREFIX} `)) return undefined;
  const body = line.slice(CHECKPOINT_PREFIX.length).trim();
  if (body === '') return { step: null };
  const match = /^step=(\d+)$/.exec(body);
  if (match === null)
    return { error: `expected 'step=<whole number>', got '${body.slice(0, 50)}'` };
  return { step: Number(match[1]) };
}
