import type { StoredEvent } from '@acai/contracts';

/**
 * A run's timeline: its events and its jobs' events in log order, each with a sentence for a
 * person and the payload of the decision it records. Pure: the `run-timeline` projection of
 * provenance stores what these functions make, and a replay makes it again.
 */

/** What the timeline knows of a job, from its run's `run.submitted` (or its `job.queued`). */
export interface TimelineJob {
  readonly runId: string;
  readonly name: string;
  /** The step it runs: a trial's swept step, otherwise its name. */
  readonly step: string;
  /** Its trial's number, for a trial of a swept step (null otherwise). */
  readonly trial: number | null;
}

/** One entry of a run's timeline. */
export interface TimelineEntry {
  readonly runId: string;
  /** The event's position in the log: entries are in this order. */
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly jobId: string | null;
  readonly step: string | null;
  readonly trial: number | null;
  readonly attempt: number | null;
  readonly summary: string;
  readonly data: unknown;
}

/**
 * Events left out: too many to read and no decision in them (a job reports metrics every few
 * seconds; `GET /api/v1/jobs/{id}/metrics` has them). Any other event of a run or of its jobs is
 * in, a type this code does not know with a generic sentence.
 */
export const TIMELINE_EXCLUDED: ReadonlySet<string> = new Set(['job.metrics_reported']);

/** How many alternatives of a provisioning or rescaling decision an entry keeps (best first). */
export const TIMELINE_ALTERNATIVES = 5;

type Fields = Readonly<Record<string, unknown>>;

const fieldsOf = (event: StoredEvent): Fields => event.data;

/** The jobs an event names with their run: every job of a `run.submitted`, a queued job. */
export function timelineJobs(event: StoredEvent): [jobId: string, job: TimelineJob][] {
  if (event.type === 'run.submitted') {
    return event.data.jobs.map((j) => [
      j.id,
      {
        runId: event.aggregateId,
        name: j.name,
        step: j.trial?.step ?? j.name,
        trial: j.trial?.index ?? null,
      },
    ]);
  }
  if (event.type === 'job.queued') {
    const trial = event.data.trial ?? null;
    return [
      [
        event.aggregateId,
        {
          runId: event.data.runId,
          name: event.data.name,
          step: trial?.step ?? event.data.name,
          trial: trial?.index ?? null,
        },
      ],
    ];
  }
  return [];
}

/**
 * The job an event is about: a job event's own, a run event's `jobId` (a step budgeted, settled,
 * its cost measured), a profile event's waiting job; null for an event of the whole run.
 */
export function timelineJobId(event: StoredEvent): string | null {
  if (event.aggregate === 'job') return event.aggregateId;
  const jobId = fieldsOf(event).jobId;
  return (event.aggregate === 'run' || event.aggregate === 'profile') && typeof jobId === 'string'
    ? jobId
    : null;
}

/**
 * The entry an event makes on its run's timeline, or null when it is on none (not a run's event,
 * a job the timeline does not know, or left out). `job` is what is known of `timelineJobId(event)`.
 */
export function timelineEntry(
  event: StoredEvent,
  job: TimelineJob | undefined,
): TimelineEntry | null {
  if (TIMELINE_EXCLUDED.has(event.type)) return null;
  const jobId = timelineJobId(event);
  let runId: string | null;
  if (event.aggregate === 'run') runId = event.aggregateId;
  else if (event.aggregate === 'job') runId = job?.runId ?? event.correlationId;
  else runId = jobId === null ? null : (job?.runId ?? null);
  if (runId === null) return null;
  const attempt = fieldsOf(event).attempt;
  return {
    runId,
    seq: event.position.seq,
    time: event.occurredAt,
    type: event.type,
    jobId,
    step: job?.step ?? null,
    trial: job?.trial ?? null,
    attempt: typeof attempt === 'number' ? attempt : null,
    summary: timelineSummary(event, job?.name ?? jobId),
    data: timelineData(event),
  };
}

/**
 * The timeline of every run in `events` (in log order), kept in memory as the projection keeps it
 * in Postgres: for tests and golden logs.
 */
export function runTimelines(events: readonly StoredEvent[]): Map<string, TimelineEntry[]> {
  const jobs = new Map<string, TimelineJob>();
  const timelines = new Map<string, TimelineEntry[]>();
  for (const event of events) {
    for (const [id, job] of timelineJobs(event)) if (!jobs.has(id)) jobs.set(id, job);
    const jobId = timelineJobId(event);
    const entry = timelineEntry(event, jobId === null ? undefined : jobs.get(jobId));
    if (entry === null) continue;
    const timeline = timelines.get(entry.runId) ?? [];
    if (!timeline.some((e) => e.seq === entry.seq)) timeline.push(entry);
    timelines.set(entry.runId, timeline);
  }
  return timelines;
}

/**
 * The payload an entry keeps: the event's data, but for what only makes it long (a run's jobs in
 * full, a job's environment, alternatives past the best few). `GET /api/v1/jobs/{id}/history`
 * has every event whole.
 */
export function timelineData(event: StoredEvent): unknown {
  switch (event.type) {
    case 'run.submitted': {
      const { jobs, ...rest } = event.data;
      return { ...rest, jobs: jobs.map((j) => ({ id: j.id, name: j.name, needs: j.needs })) };
    }
    case 'job.queued': {
      const { env: _env, secrets: _secrets, ...rest } = event.data;
      return rest;
    }
    case 'job.reused': {
      const { env: _env, ...rest } = event.data;
      return rest;
    }
    case 'job.provisioned': {
      const decision = event.data.decision;
      if (decision === null) return event.data;
      const { features: _features, ...kept } = decision;
      return {
        ...event.data,
        decision: { ...kept, alternatives: kept.alternatives.slice(0, TIMELINE_ALTERNATIVES) },
      };
    }
    case 'job.rescale_requested':
      return {
        ...event.data,
        alternatives: event.data.alternatives.slice(0, TIMELINE_ALTERNATIVES),
      };
    default:
      return event.data;
  }
}

/** `$0.0123`, `$1.25`: enough digits to tell a small cost from nothing. */
function usd(value: number): string {
  return value >= 1 || value === 0 ? `$${value.toFixed(2)}` : `$${Number(value.toPrecision(3))}`;
}

/** `45 s`, `3.5 min`, `2.1 h`. */
function duration(seconds: number): string {
  if (seconds < 120) return `${Number(seconds.toFixed(1))} s`;
  if (seconds < 7_200) return `${Number((seconds / 60).toFixed(1))} min`;
  return `${Number((seconds / 3_600).toFixed(1))} h`;
}

/** `text: reason`, or `text` alone when there is no reason. */
const withReason = (text: string, reason: string | null | undefined): string =>
  reason === undefined || reason === null || reason === '' ? text : `${text}: ${reason}`;

/**
 * A short sentence for a person. `job` names the job the event is about (its step's name, or its
 * id when the timeline does not know it). An event type this code does not know (one added since)
 * gets a generic sentence from its type: `job.reused` → `'train' reused`.
 */
export function timelineSummary(event: StoredEvent, job: string | null): string {
  const who = `'${job ?? event.aggregateId}'`;
  const type: string = event.type;
  const aggregate: string = event.aggregate;
  switch (event.type) {
    case 'run.submitted': {
      const { name, jobs, limits, origin } = event.data;
      const parts = [`${jobs.length} job${jobs.length === 1 ? '' : 's'}`];
      if (limits?.deadline != null) parts.push(`deadline ${limits.deadline}`);
      if (limits?.budget != null) parts.push(`budget ${usd(limits.budget)}`);
      const by = origin === null ? '' : ` (a ${origin.kind} run of profile ${origin.profile})`;
      return `Run '${name}' submitted${by}: ${parts.join(', ')}${reusePlanSummary(event.data.reusePlan ?? [])}`;
    }
    case 'run.step_budgeted': {
      const { share, predictedSeconds, predictedCost } = event.data;
      const limits = [
        share.maxSeconds === null ? null : `${duration(share.maxSeconds)}`,
        share.maxCost === null ? null : usd(share.maxCost),
      ].filter((l) => l !== null);
      const predicted =
        predictedSeconds === null
          ? ''
          : ` (predicted ${duration(predictedSeconds)}${predictedCost === null ? '' : `, ${usd(predictedCost)}`})`;
      return withReason(
        `${who} budgeted ${limits.length === 0 ? 'no limit' : `at most ${limits.join(' and ')}`}${predicted}`,
        share.reason,
      );
    }
    case 'run.job_cost_measured':
      return `${who} cost ${usd(event.data.cost)} for ${duration(event.data.seconds)} of running`;
    case 'run.budget_exhausted':
      return withReason(`Budget exhausted before ${who}`, event.data.reason);
    case 'run.reuse_plan_revised': {
      const { neededBy, reason } = event.data;
      return withReason(
        `${who} needed after all: '${neededBy.name}' computes instead of taking an earlier result, so ${who} runs (or takes its own) first`,
        reason,
      );
    }
    case 'run.job_settled':
      return `${who} settled: ${event.data.outcome.replace('_', ' ')}`;
    case 'run.sweep_completed': {
      const { step, trials, succeeded, earlyStopped, best } = event.data;
      const bestText = best === null ? 'no best trial' : `best ${best.name} (${best.value})`;
      return `Sweep '${step}' completed: ${succeeded} of ${trials} trials succeeded, ${earlyStopped} stopped early; ${bestText}`;
    }
    case 'run.succeeded':
      return 'Run succeeded';
    case 'run.failed':
      return withReason('Run failed', event.data.reason);
    case 'run.cancel_requested':
      return withReason('Cancel requested', event.data.reason);
    case 'run.cancelled':
      return withReason('Run cancelled', event.data.reason);
    case 'job.queued': {
      const trial = event.data.trial;
      const params =
        trial == null
          ? ''
          : ` (trial ${trial.index}: ${Object.entries(trial.params)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')})`;
      return `${who} queued${params}`;
    }
    case 'job.provisioned': {
      const { offer, provider, pool, resources, reason } = event.data;
      const where =
        offer === null
          ? `${provider} pool ${pool} (${resources.cpu} CPU, ${resources.memoryMb} MB)`
          : `${offer.name} (${offer.provider}, ${usd(offer.pricePerHour)}/h)`;
      return withReason(`${who} provisioned on ${where}`, reason);
    }
    case 'job.reused': {
      const { from, outputs } = event.data;
      const took =
        outputs.length === 0
          ? ''
          : `, taking ${outputs.map((o) => `${o.fileset} v${o.version}`).join(', ')}`;
      const saved = from.savedSeconds === null ? '' : ` (saved ${duration(from.savedSeconds)})`;
      return `${who} reused the result of job ${from.jobId}${took}${saved}`;
    }
    case 'job.dispatched':
      return `${who} attempt ${event.data.attempt} dispatched to pool ${event.data.pool}`;
    case 'job.started':
      return `${who} attempt ${event.data.attempt} started on ${event.data.executor}`;
    case 'job.succeeded': {
      const { attempt, durationMs, outputs } = event.data;
      const made =
        outputs.length === 0
          ? ''
          : `, committing ${outputs.map((o) => `${o.fileset} v${o.version}`).join(', ')}`;
      return `${who}${attempt === null ? '' : ` attempt ${attempt}`} succeeded in ${duration(durationMs / 1000)}${made}`;
    }
    case 'job.failed': {
      const { attempt, reason, message } = event.data;
      return withReason(
        `${who}${attempt === null ? '' : ` attempt ${attempt}`} failed (${reason})`,
        message,
      );
    }
    case 'job.retry_scheduled': {
      const { attempt, reason, message, retry, delayMs } = event.data;
      return `${withReason(`${who}${attempt === null ? '' : ` attempt ${attempt}`} failed (${reason})`, message)}; retry ${retry} in ${duration(delayMs / 1000)}`;
    }
    case 'job.requeued':
      return `${who} queued again for retry ${event.data.retry}`;
    case 'job.checkpointed': {
      const { step, fileset, version, attempt } = event.data;
      return `${who} attempt ${attempt} checkpointed${step === null ? '' : ` at step ${step}`} (${fileset} v${version})`;
    }
    case 'job.rescale_requested': {
      const { attempt, direction, from, to, reason } = event.data;
      return withReason(
        `${who} attempt ${attempt} to be moved ${direction} from ${from.name} to ${to.name}`,
        reason,
      );
    }
    case 'job.rescaled': {
      const { attempt, to, checkpoint } = event.data;
      const resume =
        checkpoint === null
          ? 'starting over (no checkpoint)'
          : `resuming from ${checkpoint.fileset} v${checkpoint.version}`;
      return `${who} attempt ${attempt} stopped and queued again on ${to.name}, ${resume}`;
    }
    case 'job.skipped':
      // Left out by the reuse plan: its reason begins `not needed: …`.
      return event.data.notNeeded === undefined
        ? withReason(`${who} skipped`, event.data.reason)
        : `${who} ${event.data.reason}`;
    case 'job.cancelled': {
      const stopped = event.data.earlyStopped;
      if (stopped === undefined) return withReason(`${who} cancelled`, event.data.reason);
      return `${who} stopped early by the ${stopped.rule} rule: ${stopped.objective.metric} ${stopped.value} at step ${stopped.step}, threshold ${stopped.threshold} (${stopped.compared} trials compared)`;
    }
    case 'profile.profiling_started':
      return `${who} waits for profiling run ${event.data.runId} (on ${event.data.configurations.join(', ')})`;
    case 'profile.job_waiting':
      return `${who} waits for its profile's profiling run`;
    default:
      return genericSummary(type, aggregate === 'run' ? null : who);
  }
}

/** `; reuse plan: 'etl', 'train' not needed (…); 'evaluate' to take earlier results`, or nothing. */
function reusePlanSummary(
  steps: readonly { readonly name: string; readonly decision: string }[],
): string {
  const names = (decision: string) =>
    steps
      .filter((s) => s.decision === decision)
      .map((s) => `'${s.name}'`)
      .join(', ');
  if (names('not_needed') === '') return '';
  const parts = [
    `${names('not_needed')} not needed (only steps that take earlier results read them)`,
  ];
  if (names('reuse') !== '') parts.push(`${names('reuse')} to take earlier results`);
  return `; reuse plan: ${parts.join('; ')}`;
}

/** `job.reused` → `'train' reused`; `run.extended` → `Run extended`. */
function genericSummary(type: string, who: string | null): string {
  const dot = type.indexOf('.');
  const what = (dot < 0 ? type : type.slice(dot + 1)).replaceAll('_', ' ');
  return who === null ? `Run ${what}` : `${who} ${what}`;
}
