/**
 * Replacing a file that readers may have mapped: new contents go to a temp file beside the
 * target, are synced, and are renamed over it. Never truncate a mapped file: a reader of a
 * shrinking mapping dies of SIGBUS.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { randomBytes } from "node:crypto";
import { IdxError, ioError } from "./errors";

/** Temp files of this process not yet renamed or removed, for signal handlers. */
const pending = new Set<string>();

/** Removes this process's unfinished temp files. Safe to call from an exit or signal handler. */
export function removePendingTempFiles(): void {
  for (const tmp of pending) {
    try { fs.unlinkSync(tmp); } catch { /* already gone */ }
  }
  pending.clear();
}

function tempPrefix(target: string): string {
  return `.${nodePath.basename(target)}.`;
}

const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes temp files that an earlier, killed process left beside `target`: those named after
 * the target whose process no longer runs.
 */
export function removeStaleTempFiles(target: string): void {
  const dir = nodePath.dirname(target);
  const base = nodePath.basename(target);
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== base) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isAlive(pid)) continue;
    try { fs.unlinkSync(nodePath.join(dir, name)); } catch { /* raced with another cleaner */ }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface ReplaceOptions {
  /** Checked before the rename: an aborted signal leaves the target untouched. */
  signal?: AbortSignal;
  /** fsync the file and its directory (default true). Off only for throwaway files in tests. */
  sync?: boolean;
}

/**
 * Writes `bytes` to `target` atomically: a reader (or a crash at any moment) sees the old file
 * or the new one, never a mix, and no temp file is left behind on failure.
 * @throws IdxError ERR_IDX_IO (cannot write, sync or rename), ERR_IDX_INTERRUPTED (aborted).
 */
export async function replaceFile(target: string, bytes: Uint8Array, options: ReplaceOptions = {}): Promise<void> {
  const sync = options.sync ?? true;
  removeStaleTempFiles(target);
  const tmp = nodePath.join(nodePath.dirname(target), `${tempPrefix(target)}${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let mode = 0o644;
  try {
    const st = fs.statSync(target);
    if (st.isDirectory()) {
      throw new IdxError("ERR_IDX_IO", "is a directory; give the path of the index file to write", { path: target });
    }
    mode = st.mode & 0o777;
  } catch (e) {
    if (e instanceof IdxError) throw e;
  }
  pending.add(tmp);
  try {
    let fd: number;
    try {
      fd = fs.openSync(tmp, "wx", mode);
    } catch (e) {
      throw ioError(`create a temp file in ${nodePath.dirname(target) || "."}`, target, e,
        "Check that the output directory exists and is writable.");
    }
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 30));
      if (sync) fs.fsyncSync(fd);
    } catch (e) {
      throw ioError("write the new index", target, e);
    } finally {
      fs.closeSync(fd);
    }
    // Let a pending signal handler run: an interrupt honoured here leaves the target untouched.
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(options.signal, target);
    try {
      fs.renameSync(tmp, target);
    } catch (e) {
      throw ioError("move the new index into place", target, e);
    }
    pending.delete(tmp);
    if (sync) syncDirectory(nodePath.dirname(target));
  } catch (e) {
    if (pending.delete(tmp)) {
      try { fs.unlinkSync(tmp); } catch { /* never created */ }
    }
    throw e;
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted) {
    throw new IdxError("ERR_IDX_INTERRUPTED", "interrupted; the index was not changed", { path });
  }
}

/** Makes a rename durable: the directory entry is data of the directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir || ".", "r");
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
