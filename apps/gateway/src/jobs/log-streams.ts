import { Controller, Inject } from '@nestjs/common';
import type { CommandPayload, CommandResult } from '@acai/contracts';
import {
  ensureLogStream,
  isMissing,
  LOGGER,
  OnCommand,
  type Bus,
  type EventingLogger,
  type LogRetention,
} from '@acai/eventing';

/**
 * The projects' logs streams, one per project (`ACAI_LOGS_<project>`), each with the retention the
 * operator set: one project's output cannot evict another's. The gateway makes them: when a project
 * is created, at start for every project (an upgrade, or a changed retention), and when a node
 * about to publish a job's output finds none (`ensureLogStream`).
 */
export class ProjectLogStreams {
  private readonly making = new Map<string, Promise<void>>();
  /** Projects whose stream this gateway has made or found (and brought to the retention). */
  private readonly known = new Set<string>();
  private legacy: { exists: Promise<boolean>; until: number } | undefined;

  constructor(
    private readonly bus: Bus,
    readonly retention: LogRetention,
    private readonly logger: EventingLogger,
  ) {}

  /** Makes the project's stream, or brings it to the retention; concurrent calls share one try. */
  ensure(project: string): Promise<void> {
    if (this.known.has(project)) return Promise.resolve();
    let making = this.making.get(project);
    if (making === undefined) {
      making = ensureLogStream(this.bus, project, this.retention)
        .then(() => {
          this.known.add(project);
        })
        .finally(() => this.making.delete(project));
      this.making.set(project, making);
    }
    return making;
  }

  /**
   * Whether the shared logs stream of releases before per-project streams is there (asked at most
   * once a minute: a read from a stream that does not exist waits for a timeout, not an answer).
   */
  hasLegacyStream(): Promise<boolean> {
    const now = Date.now();
    if (this.legacy === undefined || this.legacy.until < now) {
      const exists = this.bus.jsm.streams.info(this.bus.topology.streams.logs).then(
        () => true,
        (error: unknown) => {
          if (isMissing(error)) return false;
          this.legacy = undefined;
          throw error;
        },
      );
      this.legacy = { exists, until: now + 60_000 };
    }
    return this.legacy.exists;
  }

  /** Every project's stream, one after another; a failure is logged and the next one tried. */
  async ensureEvery(projects: readonly string[]): Promise<void> {
    for (const project of projects) {
      try {
        await this.ensure(project);
      } catch (error) {
        this.logger.warn(
          { project, err: error },
          'could not make the project’s logs stream; nodes ask again when they publish its output',
        );
      }
    }
  }
}

/** Answers a node about to publish a job's output to a project whose logs stream is missing. */
@Controller()
export class LogStreamsHandler {
  constructor(
    private readonly streams: ProjectLogStreams,
    @Inject(LOGGER) private readonly logger: EventingLogger,
  ) {}

  @OnCommand('ensureLogStream')
  async ensure(
    request: CommandPayload<'ensureLogStream'>,
  ): Promise<CommandResult<'ensureLogStream'>> {
    await this.streams.ensure(request.project);
    this.logger.info({ project: request.project }, 'logs stream of the project made for a node');
    return { ok: true };
  }
}
