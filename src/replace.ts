/**
 * Putting a new file where an index is (spec/FORMAT.md §11.1, §11.4): for a build, idx cp,
 * IdWriter.copyTo, and a writer's rehash. Below the writer and the builder, which both come
 * here: what may be replaced (a target that is not an index is refused unless forced), and the
 * swap itself: the old file's writer lock taken (so no writer is mid-change), the old file
 * marked retired (so its readers follow the path now), the new file renamed over it. Without
 * the addon there is no lock to take: the rename alone still switches readers atomically, and
 * readers that have the addon follow it within their watcher's delay (§11.8).
 */
import * as fs from "node:fs";
import { HeaderCells } from "./core/cells";
import { IdxError, ioError } from "./core/errors";
import { MAGIC, MAX_HEADER_BYTES, readHeader } from "./core/format";
import { FileCellStore, MappedCellStore } from "./os/cell-stores";
import { TempFile, commitTempFile, discardTempFile, throwIfAborted } from "./os/atomic-file";
import { WriterLock } from "./os/lock";
import { headerWordsOf, openMapping } from "./os/mapping";
import { nativeAddon, noteReplaced, requireNativeAddon } from "./os/native";

export interface ReplaceOptions {
  /** Checked before the rename: an aborted signal leaves the target untouched. */
  signal?: { readonly aborted: boolean };
  /** fsync the file and its directory (default true). Off only for throwaway files in tests. */
  sync?: boolean;
  /** Wait this many ms for a writer of the target to finish (default 0: fail at once). */
  wait?: number;
}

/**
 * What happened to the file a new one replaced. `retired` is false when there was an index that
 * this process could not mark retired (it may not write the file: mode 0444, another user's, a
 * read-only mount); `why` says what stopped it. Readers that watch the path (idx's, idxmap's)
 * follow the rename anyway, within about 100 ms; any other reader keeps the old file.
 */
export interface ReplaceOutcome {
  /** There was a file at the target, which the new one replaced. */
  replaced: boolean;
  /** The old file was an index and was marked retired (§11.4). */
  retired: boolean;
  /** Why an old index was not marked retired, when it was not. */
  why?: string;
}

/**
 * A build may replace an idx index (or a damaged one: rebuilding is how damage is repaired), an
 * empty file, or nothing; any other file only with `force`: it is not ours to overwrite. A
 * directory never. Never opens a target that is not a regular file, so a FIFO cannot block it.
 * @throws IdxError ERR_IDX_NOT_AN_INDEX, ERR_IDX_IO (a directory).
 */
export function refuseToReplace(path: string, force: boolean): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(path); // through a symlink
  } catch {
    return; // nothing there, or the rename will say
  }
  if (st.isDirectory()) throw new IdxError("ERR_IDX_IO", "is a directory; give the path of the index file to write", { path });
  if (force) return;
  if (!st.isFile()) {
    throw new IdxError("ERR_IDX_NOT_AN_INDEX", `exists and is not an idx index (it is ${fileKind(st)}), so it was not replaced`, {
      path, hint: "Check the output path; to replace that file anyway, ask for it (the force option).",
    });
  }
  if (st.size === 0) return;
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return; // not readable by us: the rename will say if it is not writable either
  }
  try {
    const head = Buffer.alloc(MAGIC.length);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    for (let i = 0; i < n; i++) {
      if (head[i] !== MAGIC[i]) {
        throw new IdxError("ERR_IDX_NOT_AN_INDEX", "exists and is not an idx index, so it was not replaced", {
          path, hint: "Check the output path; to replace that file anyway, ask for it (the force option).",
        });
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function fileKind(st: fs.Stats): string {
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a named pipe";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Gives the complete temp file the name `target`: locks the old file (if any), marks it
 * retired, renames the new one over it. Without an old file, the new one is linked into place
 * only if nobody created one meanwhile; if somebody did, that one is replaced. Takes the temp
 * file: on return or throw its descriptor is closed and its name is gone (renamed or removed).
 * @throws IdxError ERR_IDX_LOCKED (a writer holds the target), ERR_IDX_IO.
 */
export function installTempFile(temp: TempFile, target: string, sync = true, wait?: number): ReplaceOutcome {
  let newLock: WriterLock | null = null;
  try {
    const locking = nativeAddon() !== null;
    if (locking) newLock = WriterLock.ofNewFile(temp.path, temp.fd);
    for (;;) {
      const oldLock = locking ? WriterLock.acquire(target, { wait }) : null;
      const exists = oldLock !== null || (!locking && fs.existsSync(target));
      try {
        const outcome: ReplaceOutcome = exists ? retireFile(target) : { replaced: false, retired: false };
        if (commitTempFile(temp, target, sync, !exists)) {
          noteReplaced();
          return outcome;
        }
      } finally {
        oldLock?.release();
      }
    }
  } catch (e) {
    discardTempFile(temp);
    throw e;
  } finally {
    if (newLock !== null) newLock.release(); // closes the descriptor
    else fs.closeSync(temp.fd);
  }
}

/** installTempFile after a turn of the event loop, honouring an abort. Takes the temp file. */
export async function installTemp(temp: TempFile, target: string, options: ReplaceOptions = {}): Promise<ReplaceOutcome> {
  try {
    // Let a pending signal handler run: an interrupt honoured here leaves the target untouched.
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(options.signal, target);
  } catch (e) {
    discardTempFile(temp);
    fs.closeSync(temp.fd);
    throw e;
  }
  return installTempFile(temp, target, options.sync ?? true, options.wait);
}

/**
 * §11.4: marks the index at `path` retired, if it is one, so its readers follow the path to the
 * file about to replace it. The caller holds the writer lock. A file this process may not write
 * (mode 0444, another user's, a read-only mount) cannot be marked: the outcome says so, and its
 * readers must notice the rename on their own (§11.8).
 */
export function retireFile(path: string): ReplaceOutcome {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  } catch (e) {
    return { replaced: true, retired: false, why: ioError("open the old index for writing", path, e).message.split("\n")[0] };
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, MAX_HEADER_BYTES));
    fs.readSync(fd, head, 0, head.length, 0);
    let header;
    try {
      header = readHeader(head, size, path);
    } catch {
      return { replaced: true, retired: false }; // not an index (or a damaged one): nobody to tell
    }
    const addon = nativeAddon();
    if (addon === null) {
      new HeaderCells(new FileCellStore(fd, path), header.layout).retire();
    } else {
      const mapping = openMapping(path, { writable: true });
      try {
        new HeaderCells(new MappedCellStore(headerWordsOf(mapping, header.layout), requireNativeAddon("retiring an index"), mapping), header.layout).retire();
      } finally {
        mapping.release();
      }
    }
    return { replaced: true, retired: true };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A writer's rehash (§11.4, §11.1): takes the temp file (its descriptor becomes the new file's
 * lock, or is closed on failure), marks the writer's own file retired through its cells,
 * renames the new file over it, and passes the writer lock from the old file to the new one.
 * Returns the new file's lock, or null, changing nothing, when `target` no longer names the
 * writer's file (a new index was put there with mv, say): the writer must not rename its old
 * data over it. If the rename fails, the mark is taken back, the temp file removed, and the old
 * index is as it was.
 */
export function swapIn(temp: TempFile, target: string, oldCells: HeaderCells, oldLock: WriterLock, sync: boolean): WriterLock | null {
  let newLock: WriterLock;
  try {
    newLock = WriterLock.ofNewFile(temp.path, temp.fd);
  } catch (e) {
    discardTempFile(temp);
    fs.closeSync(temp.fd);
    throw e;
  }
  if (!oldLock.stillAt(target)) {
    discardTempFile(temp);
    newLock.release();
    return null;
  }
  oldCells.retire();
  try {
    commitTempFile(temp, target, sync);
  } catch (e) {
    discardTempFile(temp);
    newLock.release();
    oldCells.unretire();
    oldCells.bumpSeq();
    throw e;
  }
  noteReplaced();
  oldLock.release();
  return newLock;
}

