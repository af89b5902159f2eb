/**
 * One writer at a time across processes: an exclusive flock(2) on `<index>.lock`. The kernel
 * releases it when its holder exits, however it exits, so a killed writer never blocks the next
 * one. The lock file holds the holder's pid and start time, for the message a second writer gets.
 * It is never deleted: deleting a lock file that others may have open lets two writers lock two
 * different files.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import * as os from "node:os";
import { IdxError, ioError } from "./errors";

interface FlockBinding {
  /** Returns 0, or the errno (EWOULDBLOCK when another process holds the lock). */
  flock(fd: number, operation: 0 | 1 | 2, wait: boolean): number;
}

let binding: FlockBinding | undefined;
function flockBinding(): FlockBinding {
  if (binding === undefined) {
    const file = nodePath.join(__dirname, "..", "build", "Release", "idx_flock.node");
    try {
      binding = require(file) as FlockBinding;
    } catch (e) {
      throw new IdxError("ERR_IDX_IO", `the file-lock addon is missing (${file})`, {
        cause: e, hint: "Run `npm install` (or `npx node-gyp rebuild`) in the idx package to build it.",
      });
    }
  }
  return binding;
}

const LOCK_EX = 2;
const LOCK_UN = 0;

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
   * Takes the writer lock of `indexPath`.
   * @throws IdxError ERR_IDX_LOCKED naming the holder when another process holds it (after
   *   waiting `wait` ms), ERR_IDX_IO when the lock file cannot be opened.
   */
  static acquire(indexPath: string, options: LockOptions = {}): WriterLock {
    const path = `${indexPath}.lock`;
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (e) {
      throw ioError("open the writer lock", path, e, "Check that the index's directory is writable.");
    }
    const deadline = Date.now() + (options.wait ?? 0);
    const flock = flockBinding();
    for (;;) {
      const rc = flock.flock(fd, LOCK_EX, false);
      if (rc === 0) break;
      if (rc !== os.constants.errno.EWOULDBLOCK) {
        fs.closeSync(fd);
        throw ioError("lock the index for writing", indexPath, Object.assign(new Error(`flock: errno ${rc}`), { code: `errno ${rc}` }));
      }
      if (Date.now() >= deadline) {
        const holder = readHolder(fd);
        fs.closeSync(fd);
        throw new IdxError("ERR_IDX_LOCKED", `is being written by ${holder}`, {
          path: indexPath,
          hint: options.wait ? `Waited ${options.wait} ms; try again later.` : "Wait for it to finish, or ask to wait (--wait MS, or { wait } in the API).",
        });
      }
      sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
    const info = `pid ${process.pid} on ${os.hostname()} since ${new Date().toISOString()}\n`;
    try {
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, info, 0);
    } catch {
      // The holder's name is a courtesy for messages; the lock is what counts.
    }
    return new WriterLock(path, fd);
  }

  release(): void {
    if (this.#fd === null) return;
    flockBinding().flock(this.#fd, LOCK_UN, false);
    fs.closeSync(this.#fd);
    this.#fd = null;
  }
}

function readHolder(fd: number): string {
  try {
    const buf = Buffer.alloc(200);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString("utf8").trim();
    return text ? `another process (${text})` : "another process";
  } catch {
    return "another process";
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread: the writer API is synchronous, and so is waiting for its lock. */
function sleep(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
