import { Commands, Controls, type CommandName } from './commands.js';
import { defaultTopology, subjects, type Topology } from './subjects.js';

/** The services that connect to the bus, each with a NATS user of its own. */
export const BUS_SERVICES = [
  'gateway',
  'catalog',
  'scheduler',
  'provisioner',
  'executor',
  'provenance',
] as const;
export type BusService = (typeof BUS_SERVICES)[number];

/** What one NATS user may publish and subscribe to (nats-server `permissions`). */
export interface BusPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/**
 * The part of each service's permissions that is about acai's own subjects: the aggregates whose
 * events it appends, the commands it answers and sends, the work, logs and control messages it
 * publishes or hears. Read as a table in docs/bus-permissions.md.
 */
export interface BusRole {
  /** Aggregates whose events it appends (`<prefix>.evt.*.<aggregate>.*`). */
  readonly appends: readonly string[];
  /** The commands it sends (`<prefix>.cmd.<service>.<command>`); `*`: every command. */
  readonly calls: readonly (CommandName | '*')[];
  /** Work pools it queues jobs on, logs it writes, control topics it publishes. */
  readonly queuesWork: boolean;
  /** Publishes job output (`<prefix>.out.<project>.<job>`) to the projects' logs streams. */
  readonly writesLogs: boolean;
  /**
   * Makes and reads the projects' logs streams (`ACAI_LOGS_<project>`): their names hold the
   * project, so its JetStream API is not limited to named streams.
   */
  readonly managesLogStreams?: boolean;
  readonly publishesControls: readonly string[];
  readonly hearsControls: readonly string[];
}

/**
 * Control topics every service hears, besides those of its role: an operator's questions to all of
 * them (their dead letters), asked through the gateway.
 */
export const CONTROLS_EVERY_SERVICE_HEARS: readonly string[] = [
  Controls.listDeadLetters,
  Controls.redriveDeadLetters,
];

export const BUS_ROLES: Readonly<Record<BusService, BusRole>> = {
  gateway: {
    appends: [],
    calls: ['*'],
    queuesWork: false,
    writesLogs: false,
    managesLogStreams: true,
    publishesControls: [Controls.keyRevoked, ...CONTROLS_EVERY_SERVICE_HEARS],
    hearsControls: [Controls.keyRevoked],
  },
  catalog: {
    appends: ['fileset'],
    calls: [],
    queuesWork: false,
    writesLogs: false,
    publishesControls: [],
    hearsControls: [],
  },
  scheduler: {
    appends: ['run', 'job'],
    // Reuse: earlier results by signature (provenance) and whether their versions are intact.
    calls: [
      'getVersion',
      'checkResources',
      'estimateRun',
      'planRescale',
      'findReusable',
      // The plan at submit: the lookups of a run's steps together.
      'findReusableMany',
      // ... or the whole run in one, provenance signing the steps that read others.
      'findReusableSteps',
      'verifyVersion',
      // A result of a project that shares with the run's: copied into it before it is taken.
      'adoptVersion',
    ],
    queuesWork: true,
    writesLogs: false,
    publishesControls: [Controls.cancelJob, Controls.rescaleJob],
    // Heartbeats list the jobs each executor runs: the watchdog fails those nobody runs any more.
    hearsControls: [Controls.nodeHeartbeat],
  },
  provisioner: {
    // Allocation and profiling append to jobs, runs and profiles; its simulated executors run jobs
    // (their events, logs, progress and checkpoints) like the real one.
    appends: ['job', 'run', 'profile'],
    calls: [
      'getVersion',
      'submitRun',
      'ensureLogStream',
      // A simulated checkpoint is a version (with no files) of the job's checkpoint file set.
      'createFileset',
      'getFileset',
      'commitVersion',
    ],
    queuesWork: true,
    writesLogs: true,
    publishesControls: [Controls.nodeHeartbeat],
    // `simulation.stats`: what the simulated cloud did, asked by benchmarks and operators.
    hearsControls: [
      Controls.nodeHeartbeat,
      Controls.cancelJob,
      Controls.rescaleJob,
      'simulation.stats',
    ],
  },
  executor: {
    appends: ['job'],
    // Saving a job's outputs and checkpoints as versions, and the secrets of a job it starts.
    calls: [
      'ownBlobs',
      'createFileset',
      'getFileset',
      'listFiles',
      'commitVersion',
      'resolveSecrets',
      'ensureLogStream',
    ],
    queuesWork: false,
    writesLogs: true,
    publishesControls: [Controls.nodeHeartbeat],
    // Heartbeats: whether a job's attempt on another executor is alive when its work comes here.
    hearsControls: [Controls.cancelJob, Controls.rescaleJob, Controls.nodeHeartbeat],
  },
  provenance: {
    // Whom a project shares its results with for reuse (`project.reuse_sharing_changed`).
    appends: ['project'],
    // The materializer evicts derived artifacts beyond a project's storage budget.
    calls: ['evictVersion'],
    queuesWork: false,
    writesLogs: false,
    publishesControls: [],
    hearsControls: [],
  },
};

/**
 * The JetStream API a service uses on acai's streams: stream info and creation (each service
 * makes sure the streams exist at start), consumers (create, fetch, info, delete), direct reads and
 * acknowledgements. Deleting or purging a stream, or deleting a message, is nobody's: it is not here.
 * The projects' logs streams are named by project: whoever manages them has the stream and consumer
 * API of every stream name (still no deletion or purge).
 */
function jetStreamApi(t: Topology, role: BusRole): string[] {
  const streams = role.managesLogStreams ? ['*'] : [t.streams.events, t.streams.work];
  return [
    '$JS.API.INFO',
    ...streams.flatMap((s) => [
      `$JS.API.STREAM.INFO.${s}`,
      `$JS.API.STREAM.CREATE.${s}`,
      `$JS.API.STREAM.UPDATE.${s}`,
      `$JS.API.STREAM.MSG.GET.${s}`,
      `$JS.API.CONSUMER.*.${s}`,
      `$JS.API.CONSUMER.*.${s}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`,
      `$JS.API.CONSUMER.MSG.NEXT.${s}.>`,
      `$JS.API.DIRECT.GET.${s}`,
      `$JS.API.DIRECT.GET.${s}.>`,
      `$JS.ACK.${s}.>`,
    ]),
    '$JS.FC.>',
  ];
}

/**
 * The operator's user (`npm run up` writes its credentials next to the services'): everything,
 * for the `nats` CLI, benchmarks and tools that watch the bus. Never given to a service or a job.
 */
export const BUS_OPERATOR = 'operator';

/** The subject of a command (`<prefix>.cmd.catalog.get_version`), or of every command (`*`). */
function commandSubject(t: Topology, command: CommandName | '*'): string {
  return command === '*'
    ? `${t.prefix}.cmd.>`
    : subjects.command(t, Commands[command].service, Commands[command].subjectName);
}

/** The control topics a service hears: its role's, and those every service hears. */
function hears(role: BusRole): string[] {
  return [...role.hearsControls, ...CONTROLS_EVERY_SERVICE_HEARS];
}

/** Each service's NATS permissions on topology `t`, from its role. */
export function busPermissions(t: Topology, service: BusService): BusPermissions {
  const role = BUS_ROLES[service];
  const publish = [
    // Replies to the commands it answers. Not nats-server's `allow_responses`: that makes the
    // server remember the reply subject of every message a client receives, JetStream deliveries
    // included, and cost the simulation benchmark 70% of its speed.
    '_INBOX.>',
    ...jetStreamApi(t, role),
    ...role.appends.map((aggregate) => `${t.prefix}.evt.*.${aggregate}.*`),
    ...role.calls.map((command) => commandSubject(t, command)),
    ...(role.queuesWork ? [subjects.allWork(t)] : []),
    ...(role.writesLogs ? [subjects.allOutput(t)] : []),
    ...role.publishesControls.map((topic) => subjects.control(t, topic)),
  ];
  const subscribe = [
    '_INBOX.>',
    `${t.prefix}.cmd.${service}.>`,
    ...hears(role).map((topic) => subjects.control(t, topic)),
  ];
  return { publish, subscribe };
}

/**
 * docs/bus-permissions.md's table, from {@link BUS_ROLES} (a unit test keeps the page and the code
 * the same). Subjects are shown with the production prefix `acai`.
 */
export function busPermissionsTable(): string {
  const code = (values: readonly string[]) =>
    values.length === 0 ? '–' : values.map((v) => `\`${v}\``).join(', ');
  const rows = BUS_SERVICES.map((service) => {
    const role = BUS_ROLES[service];
    return [
      `**${service}**`,
      code(role.appends.map((a) => `acai.evt.*.${a}.*`)),
      code([`acai.cmd.${service}.>`]),
      code(role.calls.map((c) => commandSubject(defaultTopology, c))),
      code([
        ...(role.queuesWork ? ['acai.work.>'] : []),
        ...(role.writesLogs ? ['acai.out.>'] : []),
        ...role.publishesControls.map((t) => `acai.ctl.${t}`),
      ]),
      code(hears(role).map((t) => `acai.ctl.${t}`)),
    ];
  });
  return [
    '| service | appends events | answers commands | sends commands | publishes | hears |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}
