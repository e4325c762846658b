/**
 * The fleet's log, and the one place secrets are masked. The executor's environment (bus URL with
 * its password, blob store with its key) is written into every instance's user data, and AWS may
 * echo user data back in an error; so every log message, error message and launch attempt the
 * fleet produces passes through {@link FleetLog.redact} first.
 */

import type { Ec2FleetLogger } from './fleet-config.js';

/** Secrets shorter than this are not searched for in log lines (they would mangle them). */
const MIN_REDACTED_LENGTH = 8;

export class FleetLog {
  /** Longest first, so a secret containing another is masked whole. */
  private readonly secrets: readonly string[];

  constructor(
    private readonly logger: Ec2FleetLogger | undefined,
    executorEnv: Readonly<Record<string, string>>,
  ) {
    this.secrets = [...new Set(Object.values(executorEnv))]
      .filter((value) => value.length >= MIN_REDACTED_LENGTH)
      .sort((a, b) => b.length - a.length);
  }

  /** `text` with every secret value replaced by `[redacted]`. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.replaceAll(secret, '[redacted]');
    return out;
  }

  info(fields: object, msg: string): void {
    this.logger?.info(fields, this.redact(msg));
  }

  warn(fields: object, msg: string): void {
    this.logger?.warn(fields, this.redact(msg));
  }
}
