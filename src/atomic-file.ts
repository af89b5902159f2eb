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
  /** Runs after the new file is complete and synced, just before it is renamed over the target. */
  beforeRename?: () => void;
}

/**
 * Writes `bytes` to a new temp file beside `target` (synced unless `sync` is false) and
 * returns its path. The temp file is removed again if anything fails.
 */
export function writeTempFile(target: string, bytes: Uint8Array, sync = true): string {
  removeStaleTempFiles(target);
  const dir = nodePath.dirname(target);
  const tmp = nodePath.join(dir, `.${nodePath.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
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
  let fd: number;
  try {
    fd = fs.openSync(tmp, "wx", mode);
  } catch (e) {
    throw ioError(`create a temp file in ${dir || "."}`, target, e, "Check that the output directory exists and is writable.");
  }
  pending.add(tmp);
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 30));
    if (sync) fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    discardTempFile(tmp);
    throw ioError("write the new index", target, e, "Free some disk space and try again; the old index is unchanged.");
  }
  fs.closeSync(fd);
  return tmp;
}

/** Renames a temp file from writeTempFile over `target`, and makes the rename durable. */
export function commitTempFile(tmp: string, target: string, sync = true): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    discardTempFile(tmp);
    throw ioError("move the new index into place", target, e);
  }
  pending.delete(tmp);
  if (sync) syncDirectory(nodePath.dirname(target));
}

export function discardTempFile(tmp: string): void {
  pending.delete(tmp);
  try { fs.unlinkSync(tmp); } catch { /* never created, or already gone */ }
}

/**
 * Writes `bytes` to `target` atomically: a reader (or a crash at any moment) sees the old file
 * or the new one, never a mix, and no temp file is left behind on failure.
 * @throws IdxError ERR_IDX_IO (cannot write, sync or rename), ERR_IDX_INTERRUPTED (aborted).
 */
export async function replaceFile(target: string, bytes: Uint8Array, options: ReplaceOptions = {}): Promise<void> {
  const sync = options.sync ?? true;
  const tmp = writeTempFile(target, bytes, sync);
  try {
    // Let a pending signal handler run: an interrupt honoured here leaves the target untouched.
    await new Promise<void>((resolve) => setImmediate(resolve));
    throwIfAborted(options.signal, target);
    options.beforeRename?.();
  } catch (e) {
    discardTempFile(tmp);
    throw e;
  }
  commitTempFile(tmp, target, sync);
}

/** replaceFile for synchronous callers (the writer). */
export function replaceFileSync(target: string, bytes: Uint8Array, options: Omit<ReplaceOptions, "signal"> = {}): void {
  const sync = options.sync ?? true;
  const tmp = writeTempFile(target, bytes, sync);
  try {
    options.beforeRename?.();
  } catch (e) {
    discardTempFile(tmp);
    throw e;
  }
  commitTempFile(tmp, target, sync);
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
