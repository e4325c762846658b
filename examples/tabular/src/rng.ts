/**
 * A small seeded random number generator (mulberry32). Its whole state is one 32-bit number, so a
 * checkpoint can save it and a resumed run draws exactly the numbers the uninterrupted run would
 * have drawn: same shuffles, same final weights.
 */
export class Rng {
  private value: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`the seed must be a whole number, got ${seed}`);
    this.value = seed >>> 0;
  }

  /** Picks up a generator where `state` left off. */
  static restore(state: number): Rng {
    return new Rng(state);
  }

  /** The state to save; `Rng.restore(rng.state)` continues the same sequence. */
  get state(): number {
    return this.value >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.value = (this.value + 0x6d2b79f5) | 0;
    let t = this.value;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform whole number in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * A standard normal number (Box-Muller). It draws two uniforms and uses one, rather than caching
   * the second, so that the generator's state stays a single number.
   */
  normal(): number {
    const u = 1 - this.next(); // in (0, 1], so the log is finite
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles in place (Fisher-Yates): every permutation equally likely. */
  shuffle(items: Int32Array | Uint32Array | number[]): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const swap = items[i]!;
      items[i] = items[j]!;
      items[j] = swap;
    }
  }
}
