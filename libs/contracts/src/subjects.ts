/**
 * Where things live on the bus. Every subject and stream name comes from a Topology so tests can
 * run side by side on one nats-server with their own prefix and stream names.
 */
export interface Topology {
  /** First token of every subject, `acai` in production. */
  readonly prefix: string;
  readonly streams: {
    readonly events: string;
    readonly work: string;
    /**
     * Job output: each project has a stream of its own, `<logs>_<project>` (see
     * {@link logStreamName}). A stream of this very name is the shared one of releases before
     * per-project logs, read for jobs that ran then.
     */
    readonly logs: string;
  };
}

export const defaultTopology: Topology = {
  prefix: 'acai',
  streams: { events: 'ACAI_EVENTS', work: 'ACAI_WORK', logs: 'ACAI_LOGS' },
};

/** A topology with a unique prefix and stream names, for tests and benchmarks. */
export function isolatedTopology(tag: string): Topology {
  const clean = tag.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  const upper = clean.toUpperCase();
  return {
    prefix: `t${clean}`,
    streams: { events: `T${upper}_EVENTS`, work: `T${upper}_WORK`, logs: `T${upper}_LOGS` },
  };
}

/**
 * The logs stream of one project: `ACAI_LOGS_<project>`. Each project's output has its own stream
 * and its own retention, so one project's output never evicts another's.
 */
export function logStreamName(t: Topology, project: string): string {
  return `${t.streams.logs}_${assertToken(project, 'project')}`;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A subject token must not contain `.`, `*`, `>` or whitespace: ids and names are checked here. */
export function assertToken(value: string, what: string): string {
  if (!TOKEN.test(value)) {
    throw new Error(
      `${what} '${value}' cannot be used in a subject (letters, digits, '_' and '-' only)`,
    );
  }
  return value;
}

export const subjects = {
  /** `acai.evt.<project>.<aggregate>.<id>`: one subject per aggregate instance. */
  aggregate(t: Topology, project: string, aggregate: string, id: string): string {
    return `${t.prefix}.evt.${assertToken(project, 'project')}.${assertToken(aggregate, 'aggregate')}.${assertToken(id, 'id')}`;
  },
  /** Every event of one aggregate type across projects, e.g. all jobs. */
  aggregateType(t: Topology, aggregate: string): string {
    return `${t.prefix}.evt.*.${aggregate}.*`;
  },
  allEvents(t: Topology): string {
    return `${t.prefix}.evt.>`;
  },
  projectEvents(t: Topology, project: string): string {
    return `${t.prefix}.evt.${assertToken(project, 'project')}.>`;
  },
  work(t: Topology, pool: string): string {
    return `${t.prefix}.work.${assertToken(pool, 'pool')}`;
  },
  allWork(t: Topology): string {
    return `${t.prefix}.work.>`;
  },
  /** `acai.out.<project>.<jobId>`: a job's output lines, on its project's logs stream. */
  output(t: Topology, project: string, jobId: string): string {
    return `${t.prefix}.out.${assertToken(project, 'project')}.${assertToken(jobId, 'job id')}`;
  },
  /** Every job's output of one project: what its logs stream holds. */
  projectOutput(t: Topology, project: string): string {
    return `${t.prefix}.out.${assertToken(project, 'project')}.*`;
  },
  allOutput(t: Topology): string {
    return `${t.prefix}.out.>`;
  },
  /**
   * `acai.log.<project>.<jobId>`: where job output went before each project had its own stream
   * (the shared stream `streams.logs`); read only, for jobs that ran then.
   */
  legacyLog(t: Topology, project: string, jobId: string): string {
    return `${t.prefix}.log.${assertToken(project, 'project')}.${assertToken(jobId, 'job id')}`;
  },
  command(t: Topology, service: string, command: string): string {
    return `${t.prefix}.cmd.${service}.${command}`;
  },
  /** Core NATS control messages, e.g. "kill job X" broadcast to every executor. */
  control(t: Topology, topic: string): string {
    return `${t.prefix}.ctl.${topic}`;
  },
} as const;
