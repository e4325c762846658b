import type { StepShare } from '../events/job.events.js';

/** A step's own time and money limits, as `provision` states them. */
export interface ShareableLimits {
  readonly maxSeconds?: number;
  readonly maxCost?: number;
  readonly optimize?: 'time' | 'cost';
}

/**
 * A step's own limits narrowed by its share of its run's deadline and budget: the smaller of each,
 * and the share's `optimize` over the step's. A share narrows and never loosens; none leaves them.
 */
export function narrowByShare(own: ShareableLimits, share: StepShare | null): ShareableLimits {
  if (share === null) return own;
  const maxSeconds = smaller(own.maxSeconds, share.maxSeconds);
  const maxCost = smaller(own.maxCost, share.maxCost);
  const optimize = share.optimize ?? own.optimize;
  return {
    ...(maxSeconds === undefined ? {} : { maxSeconds }),
    ...(maxCost === undefined ? {} : { maxCost }),
    ...(optimize === undefined ? {} : { optimize }),
  };
}

function smaller(a: number | undefined, b: number | null): number | undefined {
  if (b === null) return a;
  return a === undefined ? b : Math.min(a, b);
}
