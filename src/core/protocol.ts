/**
 * The reader's side of spec/FORMAT.md §11.7: how a probe made beside a writer becomes an
 * answer. Both readers use it, the mapping one (reader/reader.ts) and the pread one
 * (os/file-lookup.ts); the addon's batch lookup does only the fast check and hands every chunk
 * that fails it back to a reader that comes here. Pure: the reader supplies the loads, the lock
 * test and the following.
 */
import { CELL_STATE, STATE_RETIRED } from "./format";

/**
 * How long a seq may stay odd and unchanged before a reader tests whether its writer is alive
 * (§11.7 "The odd-seq wait"). A healthy writer keeps seq odd for microseconds, but a loaded
 * machine deschedules it for tens of milliseconds: time alone proves nothing, the lock test does.
 */
export const STALL_MS = 5;

/**
 * How long a live writer (it holds the lock) may keep seq odd before the reader decides it is
 * stopped (a debugger, kill -STOP) and answers with two probes that agree.
 */
export const STOPPED_MS = 1000;

/** At most one lock test per reader this often, while a seq stays odd. */
export const LOCK_TEST_EVERY_MS = 100;

/** How often a reader of a retired file looks at the path for its replacement. */
export const FOLLOW_EVERY_MS = 1;

/** No seq is dead: no uint32 equals it. */
export const NO_DEAD_SEQ = -1;

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

/** What a reader may do about a seq that stayed odd across a probe (StallClock.check). */
export const WAIT = 0;
/** Test the lock: if nobody holds it, the writer died and its seq is dead. */
export const TEST_LOCK = 1;
/** The writer is alive but stopped: answer with two probes that agree. */
export const STOPPED = 2;
export type Stall = typeof WAIT | typeof TEST_LOCK | typeof STOPPED;

/** One clock per reader: when it first saw the odd seq value it is waiting on. */
export class StallClock {
  #seq = -1;
  #since = 0;
  #tested = -Infinity;
  readonly #pause: (ms: number) => void;

  /** `pause` sleeps the thread (a test counts the calls instead). */
  constructor(pause: (ms: number) => void = (ms) => Atomics.wait(sleeper, 0, 0, ms)) {
    this.#pause = pause;
  }

  /** For `seq`, odd and unchanged across a probe: what the reader may do now. Restarts when seq changes. */
  check(seq: number): Stall {
    const t = performance.now();
    if (this.#seq !== seq) {
      this.#seq = seq;
      this.#since = t;
      this.#tested = -Infinity;
      return WAIT;
    }
    const waited = t - this.#since;
    if (waited > STALL_MS && t - this.#tested >= LOCK_TEST_EVERY_MS) {
      this.#tested = t;
      return TEST_LOCK;
    }
    // A stopped writer: every lookup answers at once (two probes that agree); sleeping here too
    // made each one cost the pause, for good.
    if (waited > STOPPED_MS) return STOPPED;
    if (waited > SPIN_MS) this.#pause(PAUSE_MS);
    return WAIT;
  }
}

/** What quietRead needs of a file: its seq, and the lock test of §11.7 "A writer that died". */
export interface SeqSource {
  /** The seq word, loaded now (with acquire semantics where the CPU needs them). */
  seq(): number;
  /** The seq value this reader treats as even (its writer died), or NO_DEAD_SEQ. */
  dead(): number;
  /**
   * The lock test: true when no process holds the file's writer lock (and the path still names
   * the file). A reader that cannot test (no flock) answers false.
   */
  writerGone(): boolean;
  /** Records `seq` as dead: probes bracketed by it are quiet from now on. */
  markDead(seq: number): void;
}

/** What settle() needs from a reader: its current file, read the protocol's way. */
export interface ProtocolReader extends SeqSource {
  /**
   * Whether the file is not, or may no longer be, the index at its path: RETIRED, a rename over
   * the path, a rewrite in place (its header checksum word changed) or a lost mapping (§11.8).
   */
  diverted(): boolean;
  /**
   * §11.7 follow(): true when the reader now reads a newer file (the caller probes again);
   * false when there is none yet, or it was looked for less than FOLLOW_EVERY_MS ago. Throws
   * (ERR_IDX_CORRUPT) when the file was lost or rewritten in place and the path holds no valid
   * index: no answer may come from it.
   */
  follow(): boolean;
}

/** True when a probe between seq loads s1 and s2 stands without further checks. */
export function quiet(s1: number, s2: number, dead: number = NO_DEAD_SEQ): boolean {
  return s1 === s2 && ((s1 & 1) === 0 || s1 === dead);
}

/**
 * The slow path of §11.7's lookup: the first `probe` (§5.3 on the reader's current file, or any
 * other read of it, such as its entry count) answered `answer` between seq loads `s1` and `s2`,
 * which were not quiet. Loops until an answer stands:
 * - a diverted file is followed to its replacement; while there is none, a retired file's
 *   answer stands (it no longer changes), and a lost one's never does (follow throws);
 * - a changed seq means a write overlapped the probe: probe again;
 * - an odd seq unchanged for STALL_MS: the lock test; nobody holds the lock, so the writer
 *   died and nothing changes until the next writer stores a fresh seq: that seq is dead (quiet);
 * - an odd seq unchanged for STOPPED_MS under a held lock: a stopped writer, beside which the
 *   table as it stands answers correctly (§11.3), once a second probe agrees while seq holds.
 */
export function settle<T>(reader: ProtocolReader, probe: () => T, s1: number, s2: number, answer: T, clock: StallClock): T {
  for (;;) {
    // Quiet, and still the file it was at open: a file rewritten in place can show a quiet seq
    // over bytes the probe read with another file's numbers (§11.8).
    const diverted = reader.diverted();
    if (!diverted && quiet(s1, s2, reader.dead())) return answer;
    if (diverted) {
      if (!reader.follow() && s1 === s2) return answer;
    } else if (s1 === s2) {
      const stall = clock.check(s1);
      if (stall === TEST_LOCK) {
        if (reader.writerGone()) reader.markDead(s1);
      } else if (stall === STOPPED) {
        const again = probe();
        if (reader.seq() === s1 && again === answer) return answer;
      }
    }
    s1 = reader.seq();
    answer = probe();
    s2 = reader.seq();
  }
}

/** How quietRead treats what it read. */
export interface QuietReadOptions<T> {
  /** Whether the file was retired when `value` was read: a read of a retired file stands. */
  retired: (value: T) => boolean;
  clock: StallClock;
  /** A second read that agrees, for a stopped writer's file; without it the read stands as it is. */
  same?: (a: T, b: T) => boolean;
  /** Give up after this many reads a write overlapped (default: never): `busy(last)` decides. */
  attempts?: number;
  busy?: (last: T) => T;
}

/**
 * §11.7: `read()` of the file (its header, a run of slots, all of it) between two loads of seq
 * that show no operation under way or overlapping, so what it read belongs together. A retired
 * file no longer changes (§11.4): a read of one stands. An odd seq is waited on as settle()
 * waits: quiet once the lock test shows its writer dead, or, under a held lock, once it held for
 * STOPPED_MS and a second read agrees.
 */
export function quietRead<T>(read: () => T, file: SeqSource, options: QuietReadOptions<T>): T {
  const { retired, clock, same } = options;
  for (let overlapped = 0; ; ) {
    const s1 = file.seq();
    const value = read();
    const s2 = file.seq();
    if (quiet(s1, s2, file.dead())) return value;
    if (s1 !== s2) {
      // A write overlapped the read: a busy writer may keep doing so, a stalled one cannot.
      if (options.attempts !== undefined && ++overlapped >= options.attempts && options.busy !== undefined) return options.busy(value);
      continue;
    }
    if (retired(value)) return value;
    const stall = clock.check(s1);
    if (stall === TEST_LOCK) {
      if (file.writerGone()) file.markDead(s1);
    } else if (stall === STOPPED && (same === undefined || (same(value, read()) && file.seq() === s1))) {
      return value;
    }
  }
}

/**
 * §11.7 "The header": a private copy of the header (`read`, each cell loaded whole) read
 * quietly, as quietRead says; whether the file is retired is read from the copy itself. Beside
 * a stopped writer (its lock held, seq odd for STOPPED_MS) a copy stands only when a second one
 * agrees byte for byte, as a probe stands only when a second probe agrees.
 */
export function stableHeader(read: () => Uint8Array, file: SeqSource, clock = new StallClock()): Uint8Array {
  return quietRead(read, file, {
    retired: (copy) => copy.length >= CELL_STATE + 4 && (readWord(copy, CELL_STATE) & STATE_RETIRED) !== 0,
    clock,
    same: sameBytes,
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A SeqSource over a seq loader alone: a file whose lock a reader cannot test. */
export function untestedSeq(seq: () => number): SeqSource {
  let dead = NO_DEAD_SEQ;
  return { seq, dead: () => dead, writerGone: () => false, markDead: (s) => (dead = s) };
}

function readWord(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
}
