import {
  Controls,
  KeyRevokedControlSchema,
  parseOrThrow,
  subjects,
  type KeyRevokedControl,
} from '@acai/contracts';
import { decodeJson, describeError, encodeJson, type Bus } from '@acai/eventing';
import type { Logger } from '@acai/platform';

/** Tells every gateway replica that a key was revoked. */
export abstract class KeyRevocations {
  /** Resolves once the bus has the announcement; fails if the bus does not confirm it soon. */
  abstract announce(revoked: KeyRevokedControl): Promise<void>;
}

/** What a replica does with what it hears (the keys repository and the rate limiter). */
export interface RevocationListener {
  /** A key was revoked (here or on another replica): refuse it from the next request on. */
  revoked(keyId: string): void;
  /**
   * Whether announcements can be heard: false while the bus is disconnected (anything revoked
   * meanwhile would be missed), true again once reconnected.
   */
  listening(heard: boolean): void;
}

/** Revocations on core NATS: `<prefix>.ctl.key.revoked`, heard by every gateway replica. */
export class BusKeyRevocations implements KeyRevocations {
  private readonly subject: string;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {
    this.subject = subjects.control(bus.topology, Controls.keyRevoked);
  }

  /** Fails when the NATS server has not confirmed it within `timeoutMs` (the bus is away). */
  async announce(revoked: KeyRevokedControl, timeoutMs = 5_000): Promise<void> {
    this.bus.nc.publish(this.subject, encodeJson(revoked));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.bus.nc.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`NATS did not confirm the broadcast within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls `listener` with each revocation and each loss and return of the bus; until closed. */
  listen(listener: RevocationListener): void {
    this.bus.nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err !== null) {
          this.logger.warn({ err: describeError(err) }, 'key revocations: subscription failed');
          listener.listening(false);
          return;
        }
        try {
          const { keyId } = parseOrThrow(
            KeyRevokedControlSchema,
            decodeJson(msg.data),
            'revocation',
          );
          listener.revoked(keyId);
        } catch (error) {
          this.logger.warn({ err: describeError(error) }, 'ignored an unreadable key revocation');
        }
      },
    });
    void (async () => {
      for await (const status of this.bus.nc.status()) {
        if (status.type === 'disconnect') {
          this.logger.warn(
            'bus disconnected: API keys are checked in the database until it is back',
          );
          listener.listening(false);
        } else if (status.type === 'reconnect') {
          this.logger.info('bus reconnected: API keys are cached again');
          listener.listening(true);
        }
      }
    })();
  }
}
