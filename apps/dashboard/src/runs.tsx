import { useState } from 'preact/hooks';
import type {
  JobView,
  MetricSeries,
  HistoryEntry,
  Page,
  RunTimelineView,
  RunTrialsView,
  RunView,
} from '@acai/contracts';
import { api, call, describeError, query } from './api.js';
import { Dag, ErrorBox, Json, MetricChart, Status, Time } from './components.js';
import { useLoad } from './hooks.js';
import { Link, navigate } from './router.js';
import { LogView } from './logs.js';

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
const PAGE_SIZE = 50;
/** The timeline entries a run page shows (the route's most). */
const TIMELINE_LIMIT = 1000;

/** Runs, newest first, a page at a time (the gateway's cursor): usable with any number of runs. */
export function RunsPage() {
  // The cursors of the pages before this one, to go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const runs = useLoad(
    (signal) =>
      api<Page<RunView>>(`/api/v1/runs${query({ limit: PAGE_SIZE, cursor })}`, { signal }),
    [cursor],
    () => 5000,
  );
  return (
    <section>
      <h1>Runs</h1>
      <p>
        <Link href="/submit" class="button">
          Submit a run
        </Link>
      </p>
      <ErrorBox error={runs.error} title="Could not list the runs" />
      {runs.data === undefined ? (
        runs.error === undefined && <p class="muted">Loading…</p>
      ) : runs.data.items.length === 0 && cursors.length === 1 ? (
        <p class="muted">No runs yet in this project.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Run</th>
              <th>Name</th>
              <th>Status</th>
              <th>Jobs</th>
              <th>Submitted</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.items.map((run) => (
              <tr key={run.id}>
                <td>
                  <Link href={`/runs/${run.id}`} class="mono">
                    {run.id}
                  </Link>
                </td>
                <td>{run.name}</td>
                <td>
                  <Status status={run.status} />
                </td>
                <td>
                  {run.jobs.filter((j) => j.status === 'succeeded').length}/{run.jobs.length}{' '}
                  succeeded
                </td>
                <td>
                  <Time at={run.createdAt} />
                </td>
                <td>
                  <Time at={run.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button
          disabled={runs.data?.nextCursor === null || runs.data === undefined}
          onClick={() => setCursors([...cursors, runs.data?.nextCursor ?? null])}
        >
          Older →
        </button>
      </div>
    </section>
  );
}

const EXAMPLE_SPEC = JSON.stringify(
  {
    name: 'train',
    steps: [
      { name: 'prepare', command: ['sh', '-c', 'echo preparing; sleep 1'] },
      {
        name: 'train',
        needs: ['prepare'],
        command: [
          'sh',
          '-c',
          'for e in 1 2 3 4 5; do echo "##acai metric step=$e loss=0.$((10 - e))"; sleep 1; done',
        ],
      },
    ],
  },
  null,
  2,
);

/** Submit a run spec (JSON, as POST /api/v1/runs takes it). */
export function SubmitPage() {
  const [spec, setSpec] = useState(EXAMPLE_SPEC);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    let body: unknown;
    try {
      body = JSON.parse(spec);
    } catch (failure) {
      setError(`The spec is not JSON: ${describeError(failure)}`);
      return;
    }
    setBusy(true);
    try {
      const run = await api<{ id: string }>('/api/v1/runs', { method: 'POST', body });
      navigate(`/runs/${run.id}`);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <h1>Submit a run</h1>
      <p class="muted">
        A run spec as JSON (docs/run-spec.schema.json): steps with their command, needs, inputs and
        resources.
      </p>
      <form onSubmit={(e) => void submit(e)}>
        <textarea
          name="spec"
          rows={18}
          spellcheck={false}
          value={spec}
          onInput={(e) => setSpec(e.currentTarget.value)}
        />
        <ErrorBox error={error} title="The run was refused" />
        <button type="submit" disabled={busy}>
          {busy ? 'Submitting…' : 'Submit'}
        </button>
      </form>
    </section>
  );
}

interface RunPageData {
  readonly run: RunView;
  readonly timeline: RunTimelineView;
}

/** Step name → the steps it needs, from the run's `run.submitted` (first in its timeline). */
function needsOf(timeline: RunTimelineView): Map<string, string[]> {
  const needs = new Map<string, string[]>();
  const submitted = timeline.items.find((entry) => entry.type === 'run.submitted');
  const data = submitted?.data as { jobs?: { name?: unknown; needs?: unknown }[] } | undefined;
  for (const job of data?.jobs ?? []) {
    if (typeof job.name === 'string' && Array.isArray(job.needs)) {
      needs.set(
        job.name,
        job.needs.filter((n): n is string => typeof n === 'string'),
      );
    }
  }
  return needs;
}

/** A run: its DAG with live status, its jobs, limits, trials, and every decision taken about it. */
export function RunPage(props: { id: string }) {
  const loaded = useLoad<RunPageData>(
    async (signal) => {
      const [run, timeline] = await Promise.all([
        api<RunView>(`/api/v1/runs/${props.id}`, { signal }),
        api<RunTimelineView>(`/api/v1/runs/${props.id}/timeline?limit=${TIMELINE_LIMIT}`, {
          signal,
        }),
      ]);
      return { run, timeline };
    },
    [props.id],
    ({ run }) => (ENDED.has(run.status) ? null : 2000),
  );
  const [cancelError, setCancelError] = useState<string | undefined>(undefined);
  if (loaded.data === undefined) {
    return (
      <section>
        <h1 class="mono">{props.id}</h1>
        <ErrorBox error={loaded.error} title="Could not load the run" />
        {loaded.error === undefined && <p class="muted">Loading…</p>}
      </section>
    );
  }
  const { run, timeline } = loaded.data;
  const needs = needsOf(timeline);
  const step = (name: string) => name.replace(/#\d+$/, '');
  const edges: [string, string][] = [];
  for (const job of run.jobs) {
    for (const need of needs.get(step(job.name)) ?? []) {
      for (const before of run.jobs.filter((j) => step(j.name) === need))
        edges.push([before.id, job.id]);
    }
  }
  const cancel = async () => {
    setCancelError(undefined);
    try {
      await call(`/api/v1/runs/${run.id}/cancel`, { method: 'POST', body: {} });
      loaded.reload();
    } catch (failure) {
      setCancelError(describeError(failure));
    }
  };
  return (
    <section>
      <h1>
        Run {run.name} <Status status={run.status} />
      </h1>
      <p class="muted mono">{run.id}</p>
      <ErrorBox error={loaded.error} title="Could not refresh the run" />
      <ErrorBox error={cancelError} title="Could not cancel" />
      {!ENDED.has(run.status) && <button onClick={() => void cancel()}>Cancel run</button>}
      <h2>Steps</h2>
      <div class="scroll">
        <Dag
          label={`The steps of run ${run.name}`}
          nodes={run.jobs.map((job) => ({
            id: job.id,
            label: job.name,
            status: job.status,
            href: `/jobs/${job.id}`,
            sublabel: job.reusedFrom === undefined ? job.status : `${job.status} (reused)`,
          }))}
          edges={edges}
        />
      </div>
      {run.limits !== undefined && (
        <p>
          Spent ${run.limits.spent.toFixed(4)}
          {run.limits.budget !== null && ` of a budget of $${run.limits.budget}`}
          {run.limits.predictedCost !== null &&
            `; predicted $${run.limits.predictedCost.toFixed(4)}`}
          {run.limits.deadline !== null && (
            <>
              {' '}
              ; deadline <Time at={run.limits.deadline} />
            </>
          )}
        </p>
      )}
      {run.sweeps !== undefined && run.sweeps.length > 0 && (
        <Trials runId={run.id} ended={ENDED.has(run.status)} />
      )}
      <h2>Decisions and events</h2>
      <Timeline timeline={timeline} />
      {timeline.items.length >= TIMELINE_LIMIT && (
        <p class="muted">
          The first {TIMELINE_LIMIT} entries; the rest:{' '}
          <code>GET /api/v1/runs/{run.id}/timeline</code> with <code>after={timeline.next}</code>.
        </p>
      )}
    </section>
  );
}

function Timeline(props: { timeline: RunTimelineView }) {
  return (
    <table class="timeline">
      <thead>
        <tr>
          <th>Time</th>
          <th>Step</th>
          <th>Event</th>
          <th>What happened, and why</th>
        </tr>
      </thead>
      <tbody>
        {props.timeline.items.map((entry) => (
          <tr key={entry.seq}>
            <td>
              <Time at={entry.time} />
            </td>
            <td>
              {entry.step ?? 'run'}
              {entry.trial !== null && ` #${entry.trial}`}
              {entry.attempt !== null && entry.attempt > 1 && ` (attempt ${entry.attempt})`}
            </td>
            <td class="mono">{entry.type}</td>
            <td>
              {entry.summary}
              <details>
                <summary>data</summary>
                <pre>{JSON.stringify(entry.data, null, 2)}</pre>
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Trials(props: { runId: string; ended: boolean }) {
  const trials = useLoad(
    (signal) => api<RunTrialsView>(`/api/v1/runs/${props.runId}/trials`, { signal }),
    [props.runId],
    () => (props.ended ? null : 3000),
  );
  return (
    <div>
      <h2>Sweep trials</h2>
      <ErrorBox error={trials.error} title="Could not load the trials" />
      {trials.data?.sweeps.map((sweep) => {
        const metrics = [...new Set(sweep.trials.flatMap((t) => Object.keys(t.lastMetrics)))];
        return (
          <table key={sweep.step}>
            <caption>
              {sweep.step}
              {sweep.objective !== null && ` — ${sweep.objective.mode} ${sweep.objective.metric}`}
              {sweep.best !== null && `; best: ${sweep.best.name} (${sweep.best.value})`}
            </caption>
            <thead>
              <tr>
                <th>Trial</th>
                <th>Parameters</th>
                <th>Status</th>
                {metrics.map((m) => (
                  <th key={m}>{m}</th>
                ))}
                <th>Stopped</th>
              </tr>
            </thead>
            <tbody>
              {sweep.trials.map((trial) => (
                <tr key={trial.jobId}>
                  <td>
                    <Link href={`/jobs/${trial.jobId}`}>{trial.name}</Link>
                  </td>
                  <td class="mono">
                    {Object.entries(trial.params)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(' ')}
                  </td>
                  <td>
                    <Status status={trial.status} />
                  </td>
                  {metrics.map((m) => (
                    <td key={m}>{trial.lastMetrics[m]?.value.toPrecision(4) ?? '–'}</td>
                  ))}
                  <td>{trial.stoppedReason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        );
      })}
    </div>
  );
}

/** Each metric's curve: by step, the latest attempt's value where attempts overlap. */
export function curves(
  series: MetricSeries['series'],
): { name: string; points: { x: number; y: number }[] }[] {
  return Object.entries(series)
    .filter(([name]) => name !== 'step' && name !== 'steps_total')
    .map(([name, samples]) => {
      const byStep = new Map<number, { attempt: number; y: number }>();
      samples.forEach((sample, index) => {
        const x = sample.step ?? index + 1;
        const seen = byStep.get(x);
        if (seen === undefined || seen.attempt <= sample.attempt) {
          byStep.set(x, { attempt: sample.attempt, y: sample.value });
        }
      });
      const points = [...byStep.entries()]
        .map(([x, v]) => ({ x, y: v.y }))
        .sort((a, b) => a.x - b.x);
      return { name, points };
    });
}

interface JobPageData {
  readonly job: JobView;
  readonly metrics: MetricSeries;
  readonly history: HistoryEntry[];
}

/** A job: its status, attempts and checkpoints (its history), metric curves, and its logs live. */
export function JobPage(props: { id: string }) {
  const loaded = useLoad<JobPageData>(
    async (signal) => {
      const [job, metrics, history] = await Promise.all([
        api<JobView>(`/api/v1/jobs/${props.id}`, { signal }),
        api<MetricSeries>(`/api/v1/jobs/${props.id}/metrics`, { signal }),
        api<HistoryEntry[]>(`/api/v1/jobs/${props.id}/history`, { signal }),
      ]);
      return { job, metrics, history };
    },
    [props.id],
    ({ job }) => (ENDED.has(job.status) ? null : 2000),
  );
  const [showLogs, setShowLogs] = useState(false);
  if (loaded.data === undefined) {
    return (
      <section>
        <h1 class="mono">{props.id}</h1>
        <ErrorBox error={loaded.error} title="Could not load the job" />
        {loaded.error === undefined && <p class="muted">Loading…</p>}
      </section>
    );
  }
  const { job, metrics, history } = loaded.data;
  const charts = curves(metrics.series);
  return (
    <section>
      <h1>
        Job {job.name} <Status status={job.status} />
      </h1>
      <p class="muted">
        <span class="mono">{job.id}</span> of run{' '}
        <Link href={`/runs/${job.runId}`}>{job.runId}</Link>
      </p>
      <ErrorBox error={loaded.error} title="Could not refresh the job" />
      <dl class="facts">
        <dt>Command</dt>
        <dd class="mono">{job.command.join(' ')}</dd>
        <dt>Attempt</dt>
        <dd>{job.attempt}</dd>
        <dt>Pool</dt>
        <dd>{job.pool ?? '–'}</dd>
        <dt>Exit code</dt>
        <dd>{job.exitCode ?? '–'}</dd>
        {job.reason !== null && (
          <>
            <dt>Reason</dt>
            <dd>
              {job.reason}
              {job.message !== null && `: ${job.message}`}
            </dd>
          </>
        )}
        <dt>Checkpoint</dt>
        <dd>
          {job.checkpoint === null
            ? 'none'
            : `${job.checkpoint.fileset} v${job.checkpoint.version}${job.checkpoint.step === null ? '' : ` at step ${job.checkpoint.step}`}`}
        </dd>
        {job.progress !== undefined && job.progress !== null && (
          <>
            <dt>Progress</dt>
            <dd>
              {job.progress.fraction === null ? '' : `${Math.round(job.progress.fraction * 100)}% `}
              {job.progress.basis}
            </dd>
          </>
        )}
      </dl>
      <h2>Metrics</h2>
      {charts.length === 0 ? (
        <p class="muted">
          No metrics reported yet (a job prints <code>##acai metric loss=0.25 step=3</code>).
        </p>
      ) : (
        <div class="charts">
          {charts.map((c) => (
            <MetricChart key={c.name} name={c.name} points={c.points} />
          ))}
        </div>
      )}
      <h2>Logs</h2>
      {showLogs ? (
        <LogView jobId={job.id} />
      ) : (
        <button onClick={() => setShowLogs(true)}>Open logs</button>
      )}
      <h2>History: attempts and checkpoints</h2>
      <table>
        <thead>
          <tr>
            <th>#</th>
            <th>Time</th>
            <th>Event</th>
            <th>Data</th>
          </tr>
        </thead>
        <tbody>
          {history.map((entry) => (
            <tr key={entry.seq}>
              <td>{entry.seq}</td>
              <td>
                <Time at={entry.time} />
              </td>
              <td class="mono">{entry.type}</td>
              <td>
                <Json value={entry.data} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
