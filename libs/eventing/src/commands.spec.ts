import { describe, expect, it } from '@jest/globals';
import { defaultTopology } from '@acai/contracts';
import type { Bus } from './bus.js';
import { commandErrorBody, serveCommands } from './commands.js';
import { silentLogger } from './logger.js';

/** A bus that records subscriptions: enough to see what serveCommands would serve. */
function recordingBus(): { bus: Bus; subjects: string[] } {
  const subjects: string[] = [];
  const nc = {
    subscribe: (subject: string) => {
      subjects.push(subject);
      return { unsubscribe: () => undefined };
    },
  };
  return { bus: { topology: defaultTopology, nc } as unknown as Bus, subjects };
}

const handler = () => Promise.resolve({ ok: true });

describe('serveCommands', () => {
  it('serves a command of the registry on its subject, in the service’s queue group', () => {
    const { bus, subjects } = recordingBus();
    serveCommands(bus, 'scheduler', new Map([['scheduler.submit_run', handler]]), silentLogger);
    expect(subjects).toEqual(['acai.cmd.scheduler.submit_run']);
  });

  it('refuses a command the registry does not have, saying where to declare it', () => {
    const { bus, subjects } = recordingBus();
    expect(() =>
      serveCommands(bus, 'scheduler', new Map([['scheduler.reboot', handler]]), silentLogger),
    ).toThrow("'scheduler.reboot', which is not a command of the registry in @acai/contracts");
    expect(subjects).toEqual([]);
  });

  it('refuses a command another service owns', () => {
    const { bus } = recordingBus();
    expect(() =>
      serveCommands(bus, 'scheduler', new Map([['catalog.get_fileset', handler]]), silentLogger),
    ).toThrow('a command of catalog in the registry');
  });
});

describe('commandErrorBody', () => {
  const answer = (error: unknown) =>
    commandErrorBody(error, silentLogger, 'catalog.commit_version');

  it('answers a handler that could not reach its database or the bus as a retryable outage', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const terminated = Object.assign(
      new Error('terminating connection due to administrator command'),
      {
        code: '57P01',
      },
    );
    for (const error of [refused, terminated]) {
      expect(answer(error)).toMatchObject({ reason: 'DEPENDENCY_UNAVAILABLE', retryable: true });
    }
    // Nothing of the cause reaches the sender (addresses, statements).
    expect(JSON.stringify(answer(refused))).not.toContain('5432');
  });

  it('answers a lost race as CONCURRENT_CHANGE and anything else as INTERNAL', () => {
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    expect(answer(deadlock)).toMatchObject({
      reason: 'CONCURRENT_CHANGE',
    });
    expect(answer(new TypeError('x is undefined'))).toMatchObject({ reason: 'INTERNAL' });
  });
});
