import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { HistoryEntry, RunSpec } from '@acai/contracts';
import { eventually } from '@acai/testkit';
import { startSystem, type TestSystem } from '../support/system.js';

/** One executor with two slots, heard every 250 ms. */
const SLOTS = 2;
/** The safety net of each wait: not a performance assertion. */
const WAIT_MS = 180_000;
/** Project A's backlog: many short jobs. */
const BACKLOG = 60;
const SHORT: RunSpec['steps'][number]['command'] = ['sleep', '0.5'];

interface JobTimes {
  readonly jobId: string;
  /** Stream positions and times of its placement, start and end. */
  readonly placed: { seq: number; at: number };
  readonly started: { seq: number; at: number };
  readonly ended: { seq: number; at: number };
}

/**
 * The scheduling issue's "work from many projects and runs shares the executors fairly": one
 * project's backlog does not delay another project's single job by more than about one job's slot
 * time; a run of higher priority goes first within its project; `maxParallel` holds. Judged on the
 * events' own positions and times, with a tolerance for a loaded machine.
 */
describe('fair share of the executors', () => {
  let system: TestSystem;
  let otherKey: string;

  beforeAll(async () => {
    system = await startSystem({
      env: { ACAI_EXECUTOR_SLOTS: String(SLOTS), ACAI_NODE_HEARTBEAT_MS: '250' },
    });
    const created = await system.api('POST', '/api/v1/projects', { name: 'fair-b' });
    expect(created.status).toBe(201);
    otherKey = (created.body as { key: string }).key;
    // The dispatcher knows the pool's size once it has heard the executor.
    await eventually(
      'the scheduler to know the local pool’s slots',
      async () => {
        const metrics = await fetch(`${system.services['scheduler']!.url}/metrics`);
        const text = await metrics.text();
        return new RegExp(`acai_dispatch_pool_slots\\{[^}]*pool="local"[^}]*\\} ${SLOTS}\\b`).test(
          text,
        )
          ? true
          : undefined;
      },
      30_000,
    );
  });

  afterAll(async () => {
    await system?.close();
  });

  const runs: { id: string; key: string }[] = [];

  /** Submits a run; answers its jobs' ids. */
  async function submit(spec: RunSpec, key = system.key): Promise<string[]> {
    const r = await system.api('POST', '/api/v1/runs', spec, key);
    expect(r.status).toBe(202);
    const body = r.body as { id: string; jobs: { id: string }[] };
    runs.push({ id: body.id, key });
    return body.jobs.map((j) => j.id);
  }

  async function history(jobId: string, key = system.key): Promise<HistoryEntry[]> {
    return (await system.api('GET', `/api/v1/jobs/${jobId}/history`, undefined, key))
      .body as HistoryEntry[];
  }

  async function times(jobId: string, key = system.key): Promise<JobTimes> {
    const entries = await history(jobId, key);
    const at = (type: string) => {
      const e = entries.filter((x) => x.type === type).at(-1);
      if (e === undefined)
        throw new Error(`job ${jobId} has no ${type}: ${JSON.stringify(entries)}`);
      return { seq: e.seq, at: Date.parse(e.time) };
    };
    return {
      jobId,
      placed: at('job.provisioned'),
      started: at('job.started'),
      ended: at('job.succeeded'),
    };
  }

  async function startedCount(jobIds: readonly string[]): Promise<number> {
    let n = 0;
    for (const id of jobIds) {
      if ((await history(id)).some((e) => e.type === 'job.started')) n += 1;
    }
    return n;
  }

  it('starts another project’s single job within about one slot time of a 60-job backlog, runs a higher-priority run first, and holds maxParallel', async () => {
    const steps = (n: number, prefix: string): RunSpec['steps'] =>
      Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, command: SHORT }));
    const backlog = await submit({ name: 'backlog', steps: steps(BACKLOG, 'a') });
    const limited = await submit({ name: 'limited', steps: steps(4, 'l'), maxParallel: 1 });
    // The backlog is running: a few of its jobs have started, most wait.
    await eventually(
      'the backlog to start',
      async () => ((await startedCount(backlog.slice(0, 8))) >= 3 ? true : undefined),
      WAIT_MS,
    );
    const [single] = await submit(
      { name: 'single', steps: [{ name: 'b', command: SHORT }] },
      otherKey,
    );
    const [urgent] = await submit({
      name: 'urgent',
      steps: [{ name: 'u', command: SHORT }],
      priority: 10,
    });

    for (const run of runs) {
      expect((await system.waitForRun(run.id, run.key, WAIT_MS)).status).toBe('succeeded');
    }

    const a = await Promise.all(backlog.map((id) => times(id)));
    const b = await times(single!, otherKey);
    const u = await times(urgent!);
    const l = await Promise.all(limited.map((id) => times(id)));

    // One job's slot time, as the backlog's jobs took it (start to end, median).
    const slot = median(a.map((j) => j.ended.at - j.started.at));
    // B's job waited for about one slot: at most two jobs had to end (one slot freed takes the
    // prefetched job, the next one B's), plus the dispatcher's reaction, on a loaded machine.
    const waited = b.started.at - b.placed.at;
    expect(waited).toBeLessThanOrEqual(slot + 1_500);
    // ...and it went before most of the backlog that was still waiting when it was placed.
    const waitingThen = a.filter((j) => j.started.seq > b.placed.seq);
    const after = waitingThen.filter((j) => j.started.seq > b.started.seq);
    expect(waitingThen.length).toBeGreaterThan(BACKLOG / 2);
    expect(after.length).toBeGreaterThanOrEqual(waitingThen.length - (SLOTS + 1));

    // The urgent run went before its project's backlog, bar the jobs already released.
    const behind = a.filter((j) => j.started.seq > u.placed.seq);
    const overtaken = behind.filter((j) => j.started.seq > u.started.seq);
    expect(overtaken.length).toBeGreaterThanOrEqual(behind.length - (SLOTS + 1));

    // The limited run never had two jobs out at once, though slots were free at its end.
    expect(maxOverlap(l.map((j) => [j.started.seq, j.ended.seq] as const))).toBe(1);
  });

  it('refuses a run spec whose priority or maxParallel is out of bounds, naming the field', async () => {
    const steps = [{ name: 'a', command: ['true'] }];
    const high = await system.api('POST', '/api/v1/runs', { name: 'r', steps, priority: 1000 });
    expect(high.status).toBe(400);
    expect(high.text).toContain('priority is at most 100');
    const none = await system.api('POST', '/api/v1/runs', { name: 'r', steps, maxParallel: 0 });
    expect(none.status).toBe(400);
    expect(none.text).toContain('maxParallel must be at least 1');
  });
});

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** The most intervals (start, end positions in the log) open at once. */
function maxOverlap(intervals: readonly (readonly [number, number])[]): number {
  const edges = intervals.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]);
  edges.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) {
    open += d!;
    most = Math.max(most, open);
  }
  return most;
}
