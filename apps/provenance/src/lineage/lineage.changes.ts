import type { JobStatus, QualitySpec, StoredEvent } from '@acai/contracts';
import { jobStatusAfter } from '@acai/runs';

/** The id of a file set version in the graph: `version:<fileset>@<version>`. */
export function versionNodeId(fileset: string, version: number): string {
  return `version:${fileset}@${version}`;
}

/** The id of a job in the graph: `job:<job id>`. */
export function jobNodeId(jobId: string): string {
  return `job:${jobId}`;
}

/**
 * What a batch of events says about one node. A field left undefined is unchanged; a node a batch
 * only updates (`creates: false`: a status, an eviction) is never made by it, so a job the log only
 * skipped or a version it only evicted is not put in the graph.
 */
export interface NodeChange {
  project: string;
  id: string;
  kind: 'version' | 'job';
  creates: boolean;
  seq: number;
  fileset?: string;
  version?: number;
  bytes?: number;
  files?: number;
  manifestSha256?: string;
  createdBy?: { kind: 'key'; keyId: string } | { kind: 'job'; jobId: string };
  evicted?: boolean;
  /** Pinned (never evicted) or unpinned, as last said. */
  pinned?: boolean;
  jobId?: string;
  runId?: string;
  step?: string;
  command?: string[];
  parameters?: Record<string, string>;
  code?: string | null;
  status?: JobStatus;
  durationMs?: number;
  /** The earlier job whose result it took instead of running (`job.reused`). */
  reusedFrom?: string;
  /**
   * A job that took an earlier result: how long the job that computed that result ran, ms
   * (`job.reused.from.savedSeconds`, the chain of reuses already followed; it may be of another
   * project). What recreating the versions it made (copied from another project) would cost.
   */
  savedMs?: number;
  /** A version: how long the latest job that read it took to put it in place, ms. */
  loadMs?: number;
  /** The metric that says how good the model it makes is (the materializer weighs by it). */
  quality?: QualitySpec;
}

export interface EdgeChange {
  project: string;
  /**
   * The maker: a version read by a job (`input`), a job that made a version (`output`), or a job
   * that took an earlier job's version as its own instead of running (`reused`).
   */
  src: string;
  dst: string;
  kind: 'input' | 'output' | 'reused';
  seq: number;
}

export interface LineageChanges {
  readonly nodes: Map<string, NodeChange>;
  readonly edges: Map<string, EdgeChange>;
}

/**
 * Folds a batch of events, in log order, into one change per node and per edge, so that a batch is
 * applied with one statement per table however many events it holds. Later events win field by
 * field; an edge is added once.
 */
export function lineageChanges(events: readonly StoredEvent[]): LineageChanges {
  const nodes = new Map<string, NodeChange>();
  const edges = new Map<string, EdgeChange>();
  const node = (change: NodeChange): void => {
    const key = `${change.project}\u0000${change.id}`;
    const before = nodes.get(key);
    const defined = Object.fromEntries(
      Object.entries(change).filter(([, value]) => value !== undefined),
    ) as Partial<NodeChange>;
    nodes.set(
      key,
      before === undefined
        ? change
        : {
            ...before,
            ...defined,
            creates: before.creates || change.creates,
            seq: Math.min(before.seq, change.seq),
          },
    );
  };
  const edge = (change: EdgeChange): void => {
    const key = `${change.project}\u0000${change.src}\u0000${change.dst}`;
    if (!edges.has(key)) edges.set(key, change);
  };
  /**
   * A version a job read or made, and the edge between them: `input` from the version, `output`
   * or `reused` to it. Its manifest comes from its commit, earlier in the log: the one source of it.
   */
  const linked = (
    at: { project: string; seq: number; job: string },
    ref: { fileset: string; version: number },
    kind: EdgeChange['kind'],
    extra: Partial<NodeChange> = {},
  ): void => {
    const id = versionNodeId(ref.fileset, ref.version);
    node({
      project: at.project,
      id,
      kind: 'version',
      creates: true,
      seq: at.seq,
      fileset: ref.fileset,
      version: ref.version,
      ...extra,
    });
    const [src, dst] = kind === 'input' ? [id, at.job] : [at.job, id];
    edge({ project: at.project, src, dst, kind, seq: at.seq });
  };

  for (const event of events) {
    const { project } = event;
    const seq = event.position.seq;
    const status = event.aggregate === 'job' ? jobStatusAfter(event) : undefined;
    switch (event.type) {
      case 'job.queued': {
        const job = jobNodeId(event.aggregateId);
        node({
          project,
          id: job,
          kind: 'job',
          creates: true,
          seq,
          jobId: event.aggregateId,
          runId: event.data.runId,
          step: event.data.name,
          command: event.data.command,
          parameters: event.data.env,
          status: 'queued',
          quality: event.data.quality,
        });
        for (const input of event.data.inputs) linked({ project, seq, job }, input, 'input');
        break;
      }
      case 'job.succeeded': {
        const job = jobNodeId(event.aggregateId);
        node({
          project,
          id: job,
          kind: 'job',
          creates: false,
          seq,
          status: 'succeeded',
          durationMs: event.data.durationMs,
        });
        for (const output of event.data.outputs) {
          linked({ project, seq, job }, output, 'output', {
            createdBy: { kind: 'job', jobId: event.aggregateId },
          });
        }
        for (const load of event.data.loads ?? []) {
          node({
            project,
            id: versionNodeId(load.fileset, load.version),
            kind: 'version',
            creates: false,
            seq,
            loadMs: load.ms,
          });
        }
        break;
      }
      case 'fileset.version_committed': {
        const id = versionNodeId(event.aggregateId, event.data.version);
        const by = event.data.createdBy;
        node({
          project,
          id,
          kind: 'version',
          creates: true,
          seq,
          fileset: event.aggregateId,
          version: event.data.version,
          bytes: event.data.manifest.bytes,
          files: event.data.manifest.files,
          manifestSha256: event.data.manifest.sha256,
          createdBy: by.kind === 'key' ? by : { kind: 'job', jobId: by.jobId },
        });
        if (by.kind === 'job') {
          // The only place the log names the code a job ran: the commit of what it made.
          const job = jobNodeId(by.jobId);
          node({
            project,
            id: job,
            kind: 'job',
            creates: true,
            seq,
            jobId: by.jobId,
            runId: by.runId,
            step: by.step,
            parameters: by.parameters,
            code: by.code ?? undefined,
          });
          edge({ project, src: job, dst: id, kind: 'output', seq });
        }
        break;
      }
      case 'job.reused': {
        // In place of `job.queued` and everything after: it read these inputs and took the earlier
        // job's versions as its outputs; those versions stay made by the earlier job.
        const job = jobNodeId(event.aggregateId);
        node({
          project,
          id: job,
          kind: 'job',
          creates: true,
          seq,
          jobId: event.aggregateId,
          runId: event.data.runId,
          step: event.data.name,
          command: event.data.command,
          parameters: event.data.env,
          status: 'succeeded',
          reusedFrom: event.data.from.jobId,
          ...(event.data.from.savedSeconds === null
            ? {}
            : { savedMs: event.data.from.savedSeconds * 1000 }),
        });
        for (const input of event.data.inputs) linked({ project, seq, job }, input, 'input');
        for (const output of event.data.outputs) linked({ project, seq, job }, output, 'reused');
        break;
      }
      case 'fileset.version_pinned':
        node({
          project,
          id: versionNodeId(event.aggregateId, event.data.version),
          kind: 'version',
          creates: false,
          seq,
          pinned: event.data.pinned,
        });
        break;
      case 'fileset.version_evicted':
        node({
          project,
          id: versionNodeId(event.aggregateId, event.data.version),
          kind: 'version',
          creates: false,
          seq,
          evicted: true,
        });
        break;
      default:
        if (status !== undefined) {
          node({
            project,
            id: jobNodeId(event.aggregateId),
            kind: 'job',
            creates: false,
            seq,
            status,
          });
        }
        break;
    }
  }
  return { nodes, edges };
}
