import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { endedHow, type StartedService } from './nats.js';

/**
 * What a service started by the launcher tells it over the IPC channel (see `runMain` in
 * libs/platform): where it listens once it is ready, or why it could not start.
 */
export type ServiceMessage =
  | { readonly type: 'acai:ready'; readonly service: string; readonly url: string }
  | {
      readonly type: 'acai:failed';
      readonly service: string;
      readonly message: string;
      /** The system error code when there is one, e.g. EADDRINUSE. */
      readonly code: string | null;
    };

function isServiceMessage(value: unknown): value is ServiceMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'acai:ready' || type === 'acai:failed';
}

/** A service that could not start: its own reason, and the end of its log. */
export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError';
  constructor(
    readonly service: string,
    message: string,
    /** The system error code the service reported, e.g. EADDRINUSE. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

export interface ServiceSpec {
  readonly name: string;
  readonly main: string;
  readonly cwd: string;
  readonly logFile: string;
  readonly nodeArgs: readonly string[];
  /** Its environment for a start on this port (0: any free port, which it reports). */
  env(port: number): NodeJS.ProcessEnv;
  /** The port of its first start; 0 lets it choose. */
  readonly port: number;
  /** Restarts keep the port of the first start (the gateway: clients know its URL). */
  readonly stickyPort: boolean;
}

export interface SupervisorEvents {
  /** A line for the person running the launcher. */
  say(line: string): void;
  /** The service died and is not restarted (supervision is off). */
  died(name: string, how: string): void;
}

/** How long a restarted service waits, growing with quick failures: 1 s, 2 s, 4 s … 30 s. */
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A service up this long is healthy again: the next failure waits the first backoff. */
const HEALTHY_AFTER_MS = 60_000;
const START_TIMEOUT_MS = 60_000;

/** The waits between the starts of a process that keeps dying: 1 s, 2 s, 4 s … 30 s. */
class RestartBackoff {
  private nextMs = FIRST_BACKOFF_MS;

  /** The wait before starting again a process that died after running `upMs`. */
  afterDeath(upMs: number): number {
    if (upMs >= HEALTHY_AFTER_MS) this.nextMs = FIRST_BACKOFF_MS;
    return this.grow();
  }

  /** The wait before trying again a start that failed. */
  afterFailedStart(): number {
    return this.grow();
  }

  private grow(): number {
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, MAX_BACKOFF_MS);
    return wait;
  }
}

/**
 * One service process of the launcher: started from its build with an IPC channel, ready when it
 * says where it listens, and restarted with backoff when it dies (unless supervision is off).
 * The service stops itself if the launcher dies (the channel closes), so nothing is orphaned.
 */
export class SupervisedService {
  private child: ChildProcess | undefined;
  private currentUrl: string | undefined;
  private stopping = false;
  private restarts = 0;
  private readonly backoff = new RestartBackoff();
  private restartTimer: NodeJS.Timeout | undefined;
  private port: number;
  private startedAt = 0;

  constructor(
    private readonly spec: ServiceSpec,
    private readonly supervise: boolean,
    private readonly events: SupervisorEvents,
  ) {
    this.port = spec.port;
  }

  get name(): string {
    return this.spec.name;
  }

  /** Where it listens now (undefined while it restarts). */
  get url(): string | undefined {
    return this.currentUrl;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Starts it and waits until it is ready; rejects with its reason (and log) if it cannot start. */
  async start(): Promise<string> {
    this.startedAt = Date.now();
    const { child, ready } = this.spawnOnce();
    this.child = child;
    const url = await ready;
    this.currentUrl = url;
    if (this.spec.stickyPort) this.port = Number(new URL(url).port);
    child.once('exit', (code, signal) => this.exited(child, code, signal));
    return url;
  }

  /**
   * Starts it again after `stop` (an operator's maintenance, a test's outage of a dependency),
   * on its port if the port is sticky, else on any free one; supervised again.
   */
  async startAgain(): Promise<string> {
    if (
      this.child !== undefined &&
      this.child.exitCode === null &&
      this.child.signalCode === null
    ) {
      throw new Error(`${this.spec.name} is running: stop it first`);
    }
    this.stopping = false;
    if (!this.spec.stickyPort) this.port = 0;
    return this.start();
  }

  /** SIGTERM, then SIGKILL after `graceMs`; no restart. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
    });
  }

  private spawnOnce(): { child: ChildProcess; ready: Promise<string> } {
    const log = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...this.spec.nodeArgs, this.spec.main], {
        cwd: this.spec.cwd,
        stdio: ['ignore', log, log, 'ipc'],
        env: this.spec.env(this.port),
      });
    } finally {
      closeSync(log);
    }
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new ServiceStartError(
            this.spec.name,
            `${this.spec.name} was not ready after ${START_TIMEOUT_MS / 1000} s:\n${tail(this.spec.logFile)}`,
            null,
          ),
        );
      }, START_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (message: unknown) => {
        if (!isServiceMessage(message)) return;
        done();
        if (message.type === 'acai:ready') {
          resolve(message.url);
        } else {
          reject(
            new ServiceStartError(
              this.spec.name,
              `${this.spec.name} could not start: ${message.message}`,
              message.code,
            ),
          );
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        done();
        reject(
          new ServiceStartError(
            this.spec.name,
            `${this.spec.name} exited while starting (${code ?? signal}):\n${tail(this.spec.logFile)}`,
            null,
          ),
        );
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
    return { child, ready };
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || child !== this.child) return;
    this.currentUrl = undefined;
    const how = endedHow(code, signal);
    if (!this.supervise) {
      this.events.died(this.spec.name, how);
      return;
    }
    const wait = this.backoff.afterDeath(Date.now() - this.startedAt);
    this.events.say(
      `${this.spec.name} stopped unexpectedly (${how}); restarting it in ${wait / 1000} s (log: ${this.spec.logFile})`,
    );
    this.restartTimer = setTimeout(() => void this.restart(), wait);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    this.restarts += 1;
    try {
      // Only a sticky port is kept; any other service takes whatever is free now.
      if (!this.spec.stickyPort) this.port = 0;
      const url = await this.start();
      this.events.say(`${this.spec.name} restarted, ready on ${url}`);
    } catch (error) {
      if (this.stopping) return;
      const wait = this.backoff.afterFailedStart();
      this.events.say(
        `${error instanceof Error ? error.message : String(error)}\nretrying in ${wait / 1000} s`,
      );
      this.restartTimer = setTimeout(() => void this.restart(), wait);
    }
  }
}

/**
 * A server the launcher started itself (nats-server, the embedded Postgres): when it dies, it is
 * started again with backoff on the same port with the same data, so the services, which
 * reconnect to the URL they were given, find it again. Off (benchmarks), a death is reported.
 */
export class SupervisedServer {
  private current: StartedService | undefined;
  private stopping = false;
  private restarts = 0;
  private readonly backoff = new RestartBackoff();
  private restartTimer: NodeJS.Timeout | undefined;
  private port: number | undefined;
  private startedAt = 0;

  constructor(
    readonly name: string,
    /** Starts the server on `port` (undefined: any free one). */
    private readonly startOn: (port: number | undefined) => Promise<StartedService>,
    private readonly supervise: boolean,
    private readonly events: SupervisorEvents,
  ) {}

  get pid(): number | undefined {
    return this.current?.pid;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Starts it and answers its URL; later starts keep that URL's port. */
  async start(): Promise<string> {
    this.startedAt = Date.now();
    const server = await this.startOn(this.port);
    this.current = server;
    this.port = Number(new URL(server.url).port);
    void server.exited.then((how) => this.exited(server, how));
    return server.url;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    await this.current?.stop();
  }

  private exited(server: StartedService, how: string): void {
    if (this.stopping || server !== this.current) return;
    this.current = undefined;
    if (!this.supervise) {
      this.events.died(this.name, how);
      return;
    }
    const wait = this.backoff.afterDeath(Date.now() - this.startedAt);
    this.events.say(
      `${this.name} stopped unexpectedly (${how}); restarting it on port ${this.port} in ${wait / 1000} s`,
    );
    // Its guard (which would stop it with the launcher) has nothing left to watch.
    void server.stop().catch(() => undefined);
    this.restartTimer = setTimeout(() => void this.restart(), wait);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    this.restarts += 1;
    try {
      await this.start();
      this.events.say(`${this.name} restarted on port ${this.port}`);
    } catch (error) {
      if (this.stopping) return;
      const wait = this.backoff.afterFailedStart();
      this.events.say(
        `${this.name} did not start again: ${error instanceof Error ? error.message : String(error)}; retrying in ${wait / 1000} s`,
      );
      this.restartTimer = setTimeout(() => void this.restart(), wait);
    }
  }
}

/** The last lines of a log file, for an error message. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
