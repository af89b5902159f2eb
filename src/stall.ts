/**
 * spec/FORMAT.md §11.7: how long a reader waits for a writer that stays mid-operation (an odd
 * seq that does not change) before it answers from the table as it stands. Every state between
 * two of a writer's stores answers as before or after the operation (§11.3), so waiting is only
 * to avoid reading a slot in the middle of a store; 5 ms is thousands of operations' time.
 */
export const STALL_MS = 5;

export class StallClock {
  #seq = -1;
  #since = 0;

  /** True once `seq` has been seen unchanged for STALL_MS. */
  expired(seq: number): boolean {
    const t = performance.now();
    if (this.#seq !== seq) {
      this.#seq = seq;
      this.#since = t;
      return false;
    }
    return t - this.#since > STALL_MS;
  }
}
