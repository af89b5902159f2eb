/**
 * Putting a new file where an index is (spec/FORMAT.md §11.1, §11.4), for a build, idx cp and
 * IdWriter.copyTo: takes the old file's writer lock (so no writer is mid-change), marks it
 * retired (so its readers follow the path now), renames the new file over it. Without the
 * addon there is no lock to take: the rename alone still switches readers atomically, and
 * readers that have the addon follow it within their watcher's delay (§11.8).
 */
import * as fs from "node:fs";
import { IdxError } from "./core/errors";
import { CELL_SEQ, CELL_STATE, STATE_RETIRED, cellCheck, readHeader } from "./core/format";
import { TempFile, commitTempFile, discardTempFile, throwIfAborted, writeTempFile } from "./os/atomic-file";
import { WriterLock } from "./os/lock";
import { headerWordsOf, openMapping } from "./os/mapping";
import { nativeAddon, requireNativeAddon } from "./os/native";
import { HeaderCells } from "./writer/cells";

export interface ReplaceOptions {
  /** Checked before the rename: an aborted signal leaves the target untouched. */
  signal?: { readonly aborted: boolean };
  /** fsync the file and its directory (default true). Off only for throwaway files in tests. */
  sync?: boolean;
  /** Wait this many ms for a writer of the target to finish (default 0: fail at once). */
  wait?: number;
}

/**
 * Gives the complete temp file the name `target`: locks the old file (if any), marks it
 * retired, renames the new one over it. Without an old file, the new one is linked into place
 * only if nobody created one meanwhile; if somebody did, that one is replaced. Takes the temp
 * file: on return or throw its descriptor is closed and its name is gone (renamed or removed).
 * @throws IdxError ERR_IDX_LOCKED (a writer holds the target), ERR_IDX_IO.
 */
export function installTempFile(temp: TempFile, target: string, sync = true, wait?: number): void {
  let newLock: WriterLock | null = null;
  try {
    const locking = nativeAddon() !== null;
    if (locking) newLock = WriterLock.ofNewFile(temp.path, temp.fd);
    for (;;) {
      const oldLock = locking ? WriterLock.acquire(target, { wait }) : null;
      const exists = oldLock !== null || (!locking && fs.existsSync(target));
      try {
        if (exists) retireFile(target);
        if (commitTempFile(temp, target, sync, !exists)) return;
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

/** Writes `bytes` to `target` atomically, as its one writer (see installTempFile). */
export async function replaceFile(target: string, bytes: Uint8Array, options: ReplaceOptions = {}): Promise<void> {
  const sync = options.sync ?? true;
  await installTemp(writeTempFile(target, bytes, sync), target, options);
}

/** installTempFile after a turn of the event loop, honouring an abort. Takes the temp file. */
export async function installTemp(temp: TempFile, target: string, options: ReplaceOptions = {}): Promise<void> {
  try {
    // Let a pending signal handler run: an interrupt honoured here leaves the target untouched.
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(options.signal, target);
  } catch (e) {
    discardTempFile(temp);
    fs.closeSync(temp.fd);
    throw e;
  }
  installTempFile(temp, target, options.sync ?? true, options.wait);
}

/**
 * §11.4: marks the index at `path` retired, if it is one, so its readers follow the path to the
 * file about to replace it. The caller holds the writer lock. A file this process may not write
 * (mode 0444, another user's) cannot be marked; its readers then notice the rename on their
 * own (§11.8), so that is not an error.
 */
export function retireFile(path: string): void {
  if (nativeAddon() === null) return retireByWrite(path);
  let mapping;
  try {
    mapping = openMapping(path, { writable: true }, (m) => {
      readHeader(m.bytes(0, Math.min(m.size, 128)), m.size, path);
    });
  } catch (e) {
    if (e instanceof IdxError) return; // not an index, or not writable by us: nobody to tell
    throw e;
  }
  try {
    const header = readHeader(mapping.bytes(0, Math.min(mapping.size, 128)), mapping.size, path);
    new HeaderCells(headerWordsOf(mapping, header.layout), header.layout, requireNativeAddon("retiring an index"), mapping).retire();
  } finally {
    mapping.release();
  }
}

/** retireFile without the addon: the two cells stored with pwrite (readers load them as words). */
function retireByWrite(path: string): void {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  } catch {
    return;
  }
  try {
    const head = Buffer.alloc(128);
    const size = fs.fstatSync(fd).size;
    fs.readSync(fd, head, 0, 128, 0);
    try {
      readHeader(head, size, path);
    } catch {
      return;
    }
    const cell = (offset: number, word: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(word >>> 0, 0);
      b.writeUInt32LE(cellCheck(offset, word), 4);
      fs.writeSync(fd, b, 0, 8, offset);
    };
    cell(CELL_STATE, (head.readUInt32LE(CELL_STATE) | STATE_RETIRED) >>> 0);
    const seq = head.readUInt32LE(CELL_SEQ);
    cell(CELL_SEQ, (seq + ((seq & 1) === 1 ? 2 : 1)) >>> 0);
  } finally {
    fs.closeSync(fd);
  }
}
