import { createHash } from 'node:crypto';
import type { Decider, NewEvent, StoredEvent } from '@acai/contracts';
import { WrongExpectedVersionError } from './errors.js';
import type { AggregateRef, EventLog } from './event-store.js';

/** What a repository needs of an aggregate's decider: how to fold its events into state. */
export type Evolver<S> = Pick<Decider<S, never>, 'initialState' | 'evolve' | 'creationEvents'>;

export interface Loaded<S> {
  readonly state: S;
  readonly version: number;
}

export interface ExecuteOptions {
  readonly correlationId?: string | null;
  readonly causationId?: string | null;
  readonly now?: Date;
}

/**
 * Load → decide → append for one aggregate type, with optimistic concurrency. States are cached
 * by subject; a service that consumes every event of this aggregate type in order keeps the cache
 * current by calling `observe`, so most decisions need no read. A stale cache costs one conflict
 * and one reload, never a wrong decision: JetStream checks the version on every append, and a
 * decision to do nothing is checked against the log before it stands. Decisions on one aggregate
 * in one process are made one after another: two handlers of one service deciding on the same run
 * at once (a job's end settling it, the settlement concluding it) would otherwise both decide on
 * the same version, and the loser would pay a conflict and a reload of the whole aggregate.
 */
export class AggregateRepository<S> {
  private readonly cache = new Map<string, Loaded<S>>();
  /** The decision being made on each aggregate (by subject), which the next one waits for. */
  private readonly deciding = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: EventLog,
    private readonly aggregate: string,
    private readonly evolver: Evolver<S>,
    private readonly maxCached = 10_000,
  ) {}

  ref(project: string, id: string): AggregateRef {
    return { project, aggregate: this.aggregate, id };
  }

  async load(project: string, id: string): Promise<Loaded<S>> {
    const subject = this.store.subjectOf(this.ref(project, id));
    const hit = this.cache.get(subject);
    if (hit !== undefined) return hit;
    const { events, version } = await this.store.read(this.ref(project, id));
    const loaded = {
      state: events.reduce(this.evolver.evolve, this.evolver.initialState()),
      version,
    };
    this.remember(subject, loaded);
    return loaded;
  }

  /**
   * The aggregate as the log has it now, not as cached: the cached state caught up with the
   * events appended after it (one read when there are none), or the whole aggregate read.
   */
  async refresh(project: string, id: string): Promise<Loaded<S>> {
    const subject = this.store.subjectOf(this.ref(project, id));
    const hit = this.cache.get(subject);
    if (hit === undefined) return this.load(project, id);
    const { events, version } = await this.store.read(this.ref(project, id), hit.version);
    if (events.length === 0) return hit;
    const loaded = { state: events.reduce(this.evolver.evolve, hit.state), version };
    this.remember(subject, loaded);
    return loaded;
  }

  /** Folds an event seen on a consumer into the cached state, if it is newer than what is cached. */
  observe(event: StoredEvent): void {
    const hit = this.cache.get(event.position.subject);
    if (hit === undefined) {
      if (this.evolver.creationEvents?.has(event.type) === true) {
        this.remember(event.position.subject, {
          state: this.evolver.evolve(this.evolver.initialState(), event),
          version: event.position.seq,
        });
      }
      return;
    }
    if (event.position.seq <= hit.version) return;
    this.remember(event.position.subject, {
      state: this.evolver.evolve(hit.state, event),
      version: event.position.seq,
    });
  }

  /**
   * Seeds the cache with a state known from elsewhere (e.g. a work message that says the job was
   * dispatched at version N). If it is out of date, the next append conflicts and the state is read.
   */
  prime(project: string, id: string, loaded: Loaded<S>): void {
    const subject = this.store.subjectOf(this.ref(project, id));
    const hit = this.cache.get(subject);
    if (hit === undefined || hit.version < loaded.version) this.remember(subject, loaded);
  }

  /** Drops a cached state, e.g. after a handler failed half-way. */
  forget(project: string, id: string): void {
    this.cache.delete(this.store.subjectOf(this.ref(project, id)));
  }

  /**
   * Decides against the current state and appends the result. On a version conflict it reloads
   * and decides again (the decision may now be different, or nothing), up to `attempts` times.
   */
  execute(
    project: string,
    id: string,
    decide: (state: S) => NewEvent[],
    options: ExecuteOptions = {},
    attempts = 5,
  ): Promise<{ events: StoredEvent[]; state: S; version: number }> {
    const subject = this.store.subjectOf(this.ref(project, id));
    const before = this.deciding.get(subject);
    const decision =
      before === undefined
        ? this.decide(subject, project, id, decide, options, attempts)
        : before.then(() => this.decide(subject, project, id, decide, options, attempts));
    const settled = decision.then(
      () => undefined,
      () => undefined,
    );
    this.deciding.set(subject, settled);
    void settled.then(() => {
      if (this.deciding.get(subject) === settled) this.deciding.delete(subject);
    });
    return decision;
  }

  private async decide(
    subject: string,
    project: string,
    id: string,
    decide: (state: S) => NewEvent[],
    options: ExecuteOptions,
    attempts: number,
  ): Promise<{ events: StoredEvent[]; state: S; version: number }> {
    for (let attempt = 1; ; attempt++) {
      const cached = this.cache.has(subject);
      let current = await this.load(project, id);
      let decided = decide(current.state);
      if (decided.length === 0 && cached) {
        // Nothing to do, as the cache has it: a stale cache would never conflict (nothing is
        // appended), so the decision is made again on the log as it is now before it stands
        // (a handler of an event the cache has not seen yet would otherwise drop it).
        const fresh = await this.refresh(project, id);
        if (fresh.version !== current.version) {
          current = fresh;
          decided = decide(current.state);
        }
      }
      if (decided.length === 0) return { events: [], ...current };
      try {
        const events = await this.store.append(this.ref(project, id), decided, {
          expectedVersion: current.version,
          ...options,
          ...(options.causationId == null
            ? {}
            : { eventIds: decisionIds(options.causationId, subject, current.version, decided) }),
        });
        const state = events.reduce(this.evolver.evolve, current.state);
        const version = events[events.length - 1]!.position.seq;
        this.remember(subject, { state, version });
        return { events, state, version };
      } catch (error) {
        this.cache.delete(subject);
        if (!(error instanceof WrongExpectedVersionError) || attempt >= attempts) throw error;
      }
    }
  }

  private remember(subject: string, loaded: Loaded<S>): void {
    this.cache.delete(subject);
    this.cache.set(subject, loaded);
    if (this.cache.size > this.maxCached) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
  }
}

/**
 * The ids of the events one decision makes: derived from what caused it (an event's or a command's
 * id), the aggregate, the version it was made on and each event's place and type. The same
 * decision made again (a handler retried after its append's acknowledgement was lost) has the same
 * ids, so JetStream stores it once; any other decision has other ids.
 */
export function decisionIds(
  causationId: string,
  subject: string,
  version: number,
  events: readonly NewEvent[],
): string[] {
  return events.map((event, i) => {
    const hex = createHash('sha256')
      .update(`${causationId}\n${subject}\n${version}\n${i}\n${event.type}`)
      .digest('hex');
    // A name-based UUID (version 8, RFC 9562), so ids look like every other event id.
    const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  });
}

/**
 * The one way to declare an aggregate's repository: a class Nest can inject, built from an event
 * log. `export class RunRepository extends aggregateRepository(RUN, runDecider) {}` in
 * `<feature>/run.repository.ts`.
 */
export function aggregateRepository<S>(
  aggregate: string,
  evolver: Evolver<S>,
  maxCached?: number,
): new (log: EventLog) => AggregateRepository<S> {
  return class extends AggregateRepository<S> {
    constructor(log: EventLog) {
      super(log, aggregate, evolver, maxCached);
    }
  };
}
