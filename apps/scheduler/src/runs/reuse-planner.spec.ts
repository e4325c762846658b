import { describe, expect, it } from '@jest/globals';
import type { HashedCode, PlannedJob, ReusableResult, StagedInput } from '@acai/contracts';
import { silentLogger } from '@acai/eventing';
import { FakeCommands } from '@acai/eventing/testing';
import { lookUpSteps, signJob } from '@acai/runs';
import { plannedJob } from '@acai/testkit';
import type { CodeHasher } from './code-hasher.js';
import { ReusePlanner } from './reuse-planner.js';

const PROJECT = 'p';
const codeOf = (command: readonly string[]): HashedCode[] => [
  { ref: command[0]!, role: 'program', sha256: `code-${command.join(' ')}`, problem: null },
];
const hasher = {
  hash: (command: readonly string[]) => Promise.resolve(codeOf(command)),
} as unknown as CodeHasher;

const out = (fileset: string) => ({ fileset, path: `/out/${fileset}`, labels: [], save: true });

/** raw -> etl -> data -> feat -> features -> train -> model, and eval reading data and model. */
function run(): PlannedJob[] {
  return [
    plannedJob('job-etl', 'etl', [], {
      inputs: [{ fileset: 'raw', version: 'latest', path: '/in/raw' }],
      outputs: [out('data')],
    }),
    plannedJob('job-feat', 'feat', ['etl'], {
      inputs: [{ fileset: 'data', fromStep: 'etl', path: '/in/data' }],
      outputs: [out('features')],
    }),
    plannedJob('job-train', 'train', ['feat'], {
      env: { LR: '0.1' },
      inputs: [{ fileset: 'features', fromStep: 'feat', path: '/in/features' }],
      outputs: [out('model')],
    }),
    plannedJob('job-eval', 'eval', ['etl', 'train'], {
      inputs: [
        { fileset: 'data', fromStep: 'etl', path: '/in/data' },
        { fileset: 'model', fromStep: 'train', path: '/in/model' },
      ],
      outputs: [out('report')],
    }),
  ];
}

/**
 * The earlier results provenance and the catalog know of: each version's content, each step's
 * results by the signature it had, and which versions are evicted.
 */
class World {
  readonly manifests = new Map<string, string>([['raw@1', 'm-raw-1']]);
  readonly results = new Map<string, ReusableResult[]>();
  readonly evicted = new Set<string>();
  /** Versions whose content provenance does not know (committed before it kept them). */
  readonly unknownToProvenance = new Set<string>();

  /**
   * A job that ran `job` on `inputs` (name@version) and committed `outputs` (name@version), in
   * `owner` (a project that shares its results with PROJECT; its versions are `owner:name@version`).
   */
  ran(jobId: string, job: PlannedJob, inputs: string[], outputs: string[], owner?: string): void {
    const staged: StagedInput[] = job.inputs.map((input, i) => {
      const { fileset, version } = parseRef(inputs[i]!);
      return {
        fileset,
        version,
        manifestSha256: this.manifests.get(inputs[i]!)!,
        path: input.path,
      };
    });
    const signature = signJob({ ...job, inputs: staged, code: codeOf(job.command) }).sha256;
    const made = outputs.map((o) => versionKey(owner, parseRef(o).fileset, parseRef(o).version));
    for (const o of made) this.manifests.set(o, `m-${o}`);
    const result: ReusableResult = {
      jobId,
      runId: `run-of-${jobId}`,
      name: job.name,
      outputs: outputs.map(parseRef),
      durationMs: 60_000,
      pricePerHour: null,
      reusedFrom: null,
      ...(owner === undefined ? {} : { project: owner }),
    };
    // Newest first.
    this.results.set(signature, [result, ...(this.results.get(signature) ?? [])]);
  }

  /** The services as the planner asks them; `oneRoundTrip: false` is an older provenance. */
  commands(oneRoundTrip: boolean): FakeCommands {
    const found = (signature: string, exclude: string) =>
      (this.results.get(signature) ?? []).filter((r) => r.jobId !== exclude).slice(0, 5);
    const commands = new FakeCommands()
      .on('getVersion', (req) => {
        const version = req.version === 'latest' ? 1 : Number(req.version);
        return {
          fileset: req.name,
          version,
          parent: 0,
          files: 1,
          bytes: 10,
          manifestSha256: this.manifests.get(
            versionKey(req.project === PROJECT ? undefined : req.project, req.name, version),
          )!,
          metadata: {},
          labels: [],
          pinned: false,
          evicted: false,
          createdBy: { kind: 'key', keyId: 'k' },
        };
      })
      .on('verifyVersion', (req) => {
        const gone = this.evicted.has(`${req.name}@${req.version}`);
        return {
          fileset: req.name,
          version: req.version,
          intact: !gone,
          problem: gone ? 'evicted' : null,
        };
      })
      .on('findReusableMany', (req) => ({
        results: req.lookups.map((l) => found(l.signature, l.excludeJobId)),
      }));
    if (oneRoundTrip) {
      commands.on('findReusableSteps', (req) => ({
        steps: lookUpSteps(req.steps, {
          results: found,
          manifestOf: (owner, fileset, version) =>
            this.unknownToProvenance.has(`${fileset}@${version}`)
              ? undefined
              : this.manifests.get(versionKey(owner, fileset, version)),
        }),
      }));
    }
    return commands;
  }
}

/** `name@version`, of PROJECT, or of `owner` as `owner:name@version`. */
function versionKey(owner: string | undefined, fileset: string, version: number): string {
  return owner === undefined ? `${fileset}@${version}` : `${owner}:${fileset}@${version}`;
}

function parseRef(ref: string): { fileset: string; version: number } {
  const [fileset, version] = ref.replace(/^[^:]*:/, '').split('@') as [string, string];
  return { fileset, version: Number(version) };
}

/** The plan both ways: a level at a time (an older provenance) and in one round trip. */
async function plans(world: World) {
  const byLevel = world.commands(false);
  const atOnce = world.commands(true);
  const planner = (c: FakeCommands) => new ReusePlanner(c, hasher, silentLogger, '/usr/bin');
  const before = await planner(byLevel).planSteps(PROJECT, run());
  const after = await planner(atOnce).planSteps(PROJECT, run());
  const asked = (c: FakeCommands, name: string) => c.sent.filter((s) => s.name === name).length;
  return {
    before,
    after,
    roundTrips: {
      byLevel: asked(byLevel, 'findReusableMany'),
      atOnce: asked(atOnce, 'findReusableSteps') + asked(atOnce, 'findReusableMany'),
      levelsAfterAll: asked(atOnce, 'findReusableMany'),
    },
    versionsAsked: asked(atOnce, 'getVersion'),
  };
}

/** Every step computed before: etl, feat, train, eval each once, on the versions they made. */
function computedBefore(world = new World()): World {
  const [etl, feat, train, evaluate] = run() as [PlannedJob, PlannedJob, PlannedJob, PlannedJob];
  world.ran('job-etl-1', etl, ['raw@1'], ['data@3']);
  world.ran('job-feat-1', feat, ['data@3'], ['features@2']);
  world.ran('job-train-1', train, ['features@2'], ['model@5']);
  world.ran('job-eval-1', evaluate, ['data@3', 'model@5'], ['report@1']);
  return world;
}

describe('the plan at submit in one round trip', () => {
  it('plans what a level at a time plans, asking provenance once and the catalog only for raw', async () => {
    const { before, after, roundTrips, versionsAsked } = await plans(computedBefore());
    expect(after).toEqual(before);
    expect(after.map((s) => [s.name, s.decision])).toEqual([
      ['etl', 'not_needed'],
      ['feat', 'not_needed'],
      ['train', 'not_needed'],
      ['eval', 'reuse'],
    ]);
    expect(roundTrips).toEqual({ byLevel: 4, atOnce: 1, levelsAfterAll: 0 });
    expect(versionsAsked).toBe(1);
  });

  it('plans the same when a step has no earlier result, and those after it are not looked up', async () => {
    const world = new World();
    const [etl, feat] = run() as [PlannedJob, PlannedJob];
    world.ran('job-etl-1', etl, ['raw@1'], ['data@3']);
    world.ran('job-feat-1', feat, ['data@3'], ['features@2']);
    const { before, after, roundTrips } = await plans(world);
    expect(after).toEqual(before);
    expect(after.map((s) => s.decision)).toEqual(['reuse', 'reuse', 'compute', 'when_ready']);
    expect(roundTrips.atOnce).toBe(1);
  });

  it('plans the same when the result of a step read by others committed none of what they read', async () => {
    const world = new World();
    const [etl, feat] = run() as [PlannedJob, PlannedJob];
    world.ran('job-etl-1', { ...etl, outputs: [out('data')] }, ['raw@1'], ['other@1']);
    world.ran('job-feat-1', feat, ['data@3'], ['features@2']);
    const { before, after, roundTrips } = await plans(world);
    expect(after).toEqual(before);
    expect(roundTrips.atOnce).toBe(1);
  });

  it('plans the same, a level at a time, when the newest result of a step read by others is evicted and an older one is taken', async () => {
    const world = computedBefore();
    const [etl, feat] = run() as [PlannedJob, PlannedJob];
    // A newer etl (same signature) made data@4, with other bytes, and it was evicted since; feat
    // also ran on it. The plan takes the older data@3: feat's signature is the one on data@3.
    world.ran('job-etl-2', etl, ['raw@1'], ['data@4']);
    world.ran('job-feat-2', feat, ['data@4'], ['features@9']);
    world.evicted.add('data@4');
    const { before, after, roundTrips } = await plans(world);
    expect(after).toEqual(before);
    expect(after.find((s) => s.name === 'feat')?.outputs).toEqual([
      { fileset: 'features', version: 2 },
    ]);
    expect(roundTrips.levelsAfterAll).toBe(4);
  });

  it('reads a shared result’s versions in the project that made them, both ways', async () => {
    // etl ran in q, which shares with p: its data@3 is q's (p has no data@3), and feat ran in p
    // on it. Both ways, feat is signed on q's data@3 and found.
    const world = new World();
    const [etl, feat] = run() as [PlannedJob, PlannedJob];
    world.ran('job-etl-q', etl, ['raw@1'], ['data@3'], 'q');
    world.ran('job-feat-1', feat, ['q:data@3'], ['features@2']);
    const { before, after } = await plans(world);
    expect(after).toEqual(before);
    expect(after.find((s) => s.name === 'feat')?.decision).toBe('reuse');
  });

  it('plans the same, a level at a time, when provenance does not know what a version holds', async () => {
    const world = computedBefore();
    world.unknownToProvenance.add('features@2');
    const { before, after, roundTrips } = await plans(world);
    expect(after).toEqual(before);
    expect(roundTrips).toEqual({ byLevel: 4, atOnce: 5, levelsAfterAll: 4 });
  });
});
