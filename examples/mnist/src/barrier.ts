/** The Int32 cells a barrier needs in shared memory. */
export const BARRIER_CELLS = 2;
const ARRIVED = 0;
const GENERATION = 1;

/**
 * A reusable barrier for threads sharing `cells` (an Int32Array over a SharedArrayBuffer, at
 * least BARRIER_CELLS long, zeroed): `wait()` returns once all `parties` threads have called it.
 *
 * The last thread to arrive resets the count and bumps the generation; the others wait for the
 * generation to change. Waiters spin briefly before sleeping: the threads finish their share of a
 * batch within microseconds of each other, and waking a sleeping thread costs tens of them, which
 * adds up over two barriers per batch and about a thousand batches per epoch.
 */
export class Barrier {
  constructor(
    private readonly cells: Int32Array,
    private readonly parties: number,
    private readonly spins = 20_000,
  ) {
    if (cells.length < BARRIER_CELLS) throw new Error('a barrier needs 2 cells');
    if (!Number.isInteger(parties) || parties < 1) throw new Error('a barrier needs parties >= 1');
  }

  wait(): void {
    if (this.parties === 1) return;
    const generation = Atomics.load(this.cells, GENERATION);
    if (Atomics.add(this.cells, ARRIVED, 1) === this.parties - 1) {
      Atomics.store(this.cells, ARRIVED, 0);
      Atomics.add(this.cells, GENERATION, 1);
      Atomics.notify(this.cells, GENERATION);
      return;
    }
    for (let i = 0; i < this.spins; i++) {
      if (Atomics.load(this.cells, GENERATION) !== generation) return;
    }
    while (Atomics.load(this.cells, GENERATION) === generation) {
      Atomics.wait(this.cells, GENERATION, generation);
    }
  }
}
