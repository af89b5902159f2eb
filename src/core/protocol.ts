/**
 * The reader's side of spec/FORMAT.md §11.7: how a probe made beside a writer becomes an
 * answer. Both readers use it, the mapping one (reader/reader.ts) and the pread one
 * (os/file-lookup.ts); the addon's batch lookup does only the fast check and hands every chunk
 * that fails it back to a reader that comes here. Pure: the reader supplies the loads.
 */
import { CELL_STATE, STATE_RETIRED } from "./format";

/**
 * How long a seq may stay odd and unchanged before a reader decides its writer died or was
 * stopped mid-operation. A healthy writer keeps seq odd for microseconds (§11.2: nothing slow
 * runs inside the bracket), so 5 ms is thousands of operations' time.
 */
export const STALL_MS = 5;

/** How often a reader of a retired file looks at the path for its replacement. */
export const FOLLOW_EVERY_MS = 1;

/**
 * While seq stays odd a reader probes again and again. A healthy writer's window is a few
 * microseconds (§11.2), so the reader spins for SPIN_MS; past that the writer is descheduled,
 * and the reader sleeps PAUSE_MS between probes, giving its CPU to the writer it waits for
 * (measured: readers spinning on a descheduled writer stretched its window to the 5 ms limit;
 * sleeping after 64 probes instead made lookups that met a healthy window wait for the sleep).
 */
const SPIN_MS = 0.1;
const PAUSE_MS = 0.05;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** One clock per reader: when it first saw the seq value it is waiting on. */
export class StallClock {
  #seq = -1;
  #since = 0;
  readonly #pause: (ms: number) => void;

  /** `pause` sleeps the thread (a test counts the calls instead). */
  constructor(pause: (ms: number) => void = (ms) => Atomics.wait(sleeper, 0, 0, ms)) {
    this.#pause = pause;
  }

  /** True once `seq` has been seen unchanged for STALL_MS; restarts whenever seq changes. */
  expired(seq: number): boolean {
    const t = performance.now();
    if (this.#seq !== seq) {
      this.#seq = seq;
      this.#since = t;
      return false;
    }
    const waited = t - this.#since;
    // Decided: the writer died or was stopped. Every lookup from now on answers at once (two
    // probes that agree); sleeping here too made each one cost the pause, for good.
    if (waited > STALL_MS) return true;
    if (waited > SPIN_MS) this.#pause(PAUSE_MS);
    return false;
  }
}

/** What settle() needs from a reader: its current file, read the protocol's way. */
export interface ProtocolReader {
  /** The seq word, loaded now (with acquire semantics where the CPU needs them). */
  seq(): number;
  /** Whether the state word has RETIRED, loaded now. */
  retired(): boolean;
  /**
   * §11.7 follow(): true when the reader now reads a newer file (the caller probes again);
   * false when there is none yet, or it was looked for less than FOLLOW_EVERY_MS ago.
   */
  follow(): boolean;
}

/** True when a probe between seq loads s1 and s2 stands without further checks. */
export function quiet(s1: number, s2: number): boolean {
  return s1 === s2 && (s1 & 1) === 0;
}

/**
 * The slow path of §11.7's lookup: the first `probe` (§5.3 on the reader's current file, or any
 * other read of it, such as its entry count) answered `answer` between seq loads `s1` and `s2`,
 * which were not quiet. Loops until an answer stands:
 * - a retired file is followed to its replacement; while there is none, its answer stands (it
 *   no longer changes);
 * - a changed seq means a write overlapped the probe: probe again;
 * - an odd seq unchanged for STALL_MS (clock per reader) is a writer that died or was stopped:
 *   by §11.3 the table as it stands answers correctly, once a second probe agrees while seq
 *   still holds.
 */
export function settle<T>(reader: ProtocolReader, probe: () => T, s1: number, s2: number, answer: T, clock: StallClock): T {
  for (;;) {
    if (quiet(s1, s2)) return answer;
    if (reader.retired()) {
      if (!reader.follow() && s1 === s2) return answer;
    } else if (s1 === s2 && clock.expired(s1)) {
      const again = probe();
      if (reader.seq() === s1 && again === answer) return answer;
    }
    s1 = reader.seq();
    answer = probe();
    s2 = reader.seq();
  }
}

/**
 * §11.7: `read()` of the file (its header, a run of slots) between two loads of seq, `seqOf()`,
 * that show no operation under way or overlapping, so what it read belongs together. A retired
 * file no longer changes (§11.4): a read of one stands. An odd seq that holds for STALL_MS
 * belongs to a writer that died or was stopped: the read stands as it is, or, given `same`,
 * once a second read agrees.
 */
export function quietRead<T>(
  read: () => T, seqOf: () => number, retired: (value: T) => boolean, clock: StallClock, same?: (a: T, b: T) => boolean,
): T {
  for (;;) {
    const s1 = seqOf();
    const value = read();
    const s2 = seqOf();
    if (quiet(s1, s2)) return value;
    if (s1 !== s2) continue;
    if (retired(value)) return value;
    if (clock.expired(s1) && (same === undefined || (same(value, read()) && seqOf() === s1))) return value;
  }
}

/**
 * §11.7 "The header": a private copy of the header (`read`, each cell loaded whole) read
 * quietly, as quietRead says; whether the file is retired is read from the copy itself.
 */
export function stableHeader(read: () => Uint8Array, seqOf: () => number, clock = new StallClock()): Uint8Array {
  return quietRead(read, seqOf, (copy) => copy.length >= CELL_STATE + 4 && (readWord(copy, CELL_STATE) & STATE_RETIRED) !== 0, clock);
}

function readWord(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
}
