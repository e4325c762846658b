import { describe, expect, it } from '@jest/globals';
import {
  AcaiError,
  CommonProblems,
  FilesetProblems,
  type CommandName,
  type CommandRequest,
  type CommandResult,
} from '@acai/contracts';
import { PatientCommands } from './patient-commands.js';
import { CommandSender } from './ports.js';

/** A sender whose first answers are the given failures, then `{ ok: true }`. */
class Scripted extends CommandSender {
  calls = 0;
  constructor(private readonly failures: Error[]) {
    super();
  }
  async send<K extends CommandName>(
    _name: K,
    _request: CommandRequest<K>,
  ): Promise<CommandResult<K>> {
    this.calls += 1;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    return { ok: true } as unknown as CommandResult<K>;
  }
}

const down = () =>
  new AcaiError(CommonProblems.SERVICE_UNAVAILABLE, 'The catalog service is not running');
const slow = () => new AcaiError(CommonProblems.SERVICE_TIMEOUT, 'The catalog did not answer');
const noSleep = () => Promise.resolve();
const request = { project: 'p', sha256s: [], sizes: [] } as CommandRequest<'ownBlobs'>;

describe('PatientCommands', () => {
  it('waits out a service that is away, however many tries it takes', async () => {
    const inner = new Scripted([
      down(),
      slow(),
      down(),
      down(),
      slow(),
      down(),
      down(),
      down(),
      down(),
      down(),
    ]);
    const slept: number[] = [];
    const patient = new PatientCommands(inner, undefined, (ms) => {
      slept.push(ms);
      return Promise.resolve();
    });
    await expect(patient.send('ownBlobs', request)).resolves.toEqual({ ok: true });
    expect(inner.calls).toBe(11);
    // Doubling from 200 ms to 5 s, less up to a fifth of jitter (patience's retryDelay).
    const exact = [200, 400, 800, 1600, 3200, 5000];
    slept.slice(0, 6).forEach((ms, i) => {
      expect(ms).toBeLessThanOrEqual(exact[i]!);
      expect(ms).toBeGreaterThanOrEqual(exact[i]! * 0.8);
    });
  });

  it('answers a refusal at once', async () => {
    const inner = new Scripted([new AcaiError(FilesetProblems.FILESET_EXISTS, 'exists')]);
    await expect(
      new PatientCommands(inner, undefined, noSleep).send('ownBlobs', request),
    ).rejects.toMatchObject({
      reason: 'FILESET_EXISTS',
    });
    expect(inner.calls).toBe(1);
  });

  it('sends a commit again only when nobody received it, never after a timeout', async () => {
    const commit = {} as CommandRequest<'commitVersion'>;
    const unreceived = new Scripted([down()]);
    await expect(
      new PatientCommands(unreceived, undefined, noSleep).send('commitVersion', commit),
    ).resolves.toEqual({ ok: true });
    const timedOut = new Scripted([slow()]);
    await expect(
      new PatientCommands(timedOut, undefined, noSleep).send('commitVersion', commit),
    ).rejects.toMatchObject({
      reason: 'SERVICE_TIMEOUT',
    });
    expect(timedOut.calls).toBe(1);
  });

  it('sends a commit with an idempotency key again after a timeout or a dependency outage', async () => {
    const commit = { commitId: 'job-1.1.output.model' } as CommandRequest<'commitVersion'>;
    const away = () =>
      new AcaiError(CommonProblems.DEPENDENCY_UNAVAILABLE, 'the catalog cannot reach Postgres');
    const inner = new Scripted([slow(), away(), down()]);
    await expect(
      new PatientCommands(inner, undefined, noSleep).send('commitVersion', commit),
    ).resolves.toEqual({ ok: true });
    expect(inner.calls).toBe(4);
  });
});
