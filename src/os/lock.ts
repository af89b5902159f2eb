/**
 * One writer at a time across processes: an exclusive flock(2) on the index file itself. The
 * kernel releases it when its holder exits, however it exits, so a killed writer never blocks
 * the next one, and no lock file is left beside the index.
 *
 * The path may be renamed over while a writer waits for the lock (a grow, compact or build
 * replaced the file), so after locking, a writer checks that the path still names the file it
 * locked, and starts again if not. Whoever replaces the file locks the new one before the
 * rename (it is private until then) and lets go of the old one after, so the lock passes from
 * file to file without a gap.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { IdxError, ioError } from "../core/errors";
import { requireNativeAddon } from "./native";

const flockBinding = () => requireNativeAddon("the writer lock (flock)");

const LOCK_EX = 2;
const LOCK_SH = 1;
const LOCK_UN = 0;

/**
 * Readers test the lock with a shared lock held for an instant (spec §11.7): a writer refused
 * while only such locks are held tries again for this long before it reports the file locked.
 */
const READER_TEST_GRACE_MS = 50;

export interface LockOptions {
  /** How long to wait for another writer to finish, in milliseconds (default 0: fail at once). */
  wait?: number;
}

export class WriterLock {
  readonly path: string;
  #fd: number | null;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Locks the index file at `path` for writing. Returns null when there is no file there (then
   * nothing can be locked, and a creator links its file into place with commitTempFile).
   * @throws IdxError ERR_IDX_LOCKED naming the holder when another process holds the lock (after
   *   waiting `wait` ms), ERR_IDX_IO when the file cannot be opened.
   */
  static acquire(path: string, options: LockOptions = {}): WriterLock | null {
    const deadline = Date.now() + (options.wait ?? 0);
    const graceEnd = Date.now() + READER_TEST_GRACE_MS;
    const flock = flockBinding();
    for (;;) {
      let fd: number;
      try {
        fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); // a named pipe must not block
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw ioError("open the index", path, e, "Check the path and its permissions.");
      }
      const rc = flock.flock(fd, LOCK_EX, false);
      if (rc === 0) {
        if (sameFile(fd, path)) return new WriterLock(path, fd);
        fs.closeSync(fd); // replaced while we waited: lock the new file
        continue;
      }
      const inode = fs.fstatSync(fd).ino;
      fs.closeSync(fd);
      if (rc !== os.constants.errno.EWOULDBLOCK) {
        throw new IdxError("ERR_IDX_IO", `cannot lock the index for writing (flock errno ${rc})`, { path });
      }
      if (Date.now() >= deadline && (Date.now() >= graceEnd || writerHolds(inode) === true)) {
        throw new IdxError("ERR_IDX_LOCKED", `is being written by ${holderOf(inode)}`, {
          path,
          hint: options.wait
            ? `Waited ${options.wait} ms; try again later.`
            : "Wait for it to finish, or let this writer wait for it.",
        });
      }
      sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
  }

  /** Locks a new file (a temp file nobody else has opened yet) through its open descriptor. */
  static ofNewFile(path: string, fd: number): WriterLock {
    const rc = flockBinding().flock(fd, LOCK_EX, false);
    if (rc !== 0) throw new IdxError("ERR_IDX_IO", `cannot lock the new file (flock errno ${rc})`, { path });
    return new WriterLock(path, fd);
  }

  /**
   * True while `path` still names the locked file: a new index put there by a rename (mv) that
   * took no lock is another file, and this lock no longer guards the index at the path.
   */
  stillAt(path: string): boolean {
    return this.#fd !== null && sameFile(this.#fd, path);
  }

  release(): void {
    if (this.#fd === null) return;
    flockBinding().flock(this.#fd, LOCK_UN, false);
    fs.closeSync(this.#fd);
    this.#fd = null;
  }
}

/**
 * §11.7 "A writer that died": whether a writer holds the lock of the file at `path`, which must
 * still name the file the caller reads (device `dev`, inode `ino`). Takes a shared lock without
 * waiting and lets it go at once. True: held (the writer is alive, perhaps stopped); false:
 * nobody holds it (a writer that left seq odd is dead); undefined: the test cannot be made
 * (the path names another file or none, or it cannot be opened).
 */
export function writerHoldsLockAt(path: string, dev: number, ino: number): boolean | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.dev !== dev || st.ino !== ino) return undefined;
    return writerHoldsLockOn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** writerHoldsLockAt through a descriptor of the file the caller reads (its own open file). */
export function writerHoldsLockOn(fd: number): boolean | undefined {
  const flock = flockBinding();
  const rc = flock.flock(fd, LOCK_SH, false);
  if (rc === 0) {
    flock.flock(fd, LOCK_UN, false);
    return false;
  }
  return rc === os.constants.errno.EWOULDBLOCK ? true : undefined;
}

/** The lock test through a descriptor: true only when it shows nobody holds the lock (no addon: false). */
export function writerGoneOn(fd: number): boolean {
  try {
    return writerHoldsLockOn(fd) === false;
  } catch {
    return false; // no flock without the addon: the test cannot be made
  }
}

function sameFile(fd: number, path: string): boolean {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * Whether /proc/locks shows an exclusive flock on the inode: true (a writer), false (only
 * shared ones: readers testing the lock, or none), undefined (not Linux). Without the addon
 * (no flock) this is a reader's lock test (spec §11.7): it reads, and takes nothing.
 */
export function writerHolds(inode: number): boolean | undefined {
  let text: string;
  try {
    text = fs.readFileSync("/proc/locks", "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === "FLOCK" && f[3] === "WRITE" && f[5]?.split(":")[2] === String(inode)) return true;
  }
  return false;
}

/** "process 1234": the flock holder of an inode, from /proc/locks (Linux); a plain phrase elsewhere. */
function holderOf(inode: number): string {
  try {
    for (const line of fs.readFileSync("/proc/locks", "utf8").split("\n")) {
      // 1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF
      const f = line.trim().split(/\s+/);
      if (f[1] === "FLOCK" && f[3] === "WRITE" && f[5]?.split(":")[2] === String(inode)) {
        return `process ${f[4]}${describeProcess(Number(f[4]))}`;
      }
    }
  } catch {
    // not Linux, or /proc not mounted
  }
  return "another process";
}

function describeProcess(pid: number): string {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).slice(0, 4).join(" ").replace(/\s+/g, " ");
    return cmd ? ` (${cmd.length > 80 ? `${cmd.slice(0, 77)}...` : cmd})` : "";
  } catch {
    return "";
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread: the writer API is synchronous, and so is waiting for its lock. */
function sleep(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
