/**
 * New files beside their target: a temp file is written, synced and renamed over the target,
 * so a reader (or a crash at any moment) sees the old file or the new one, never a mix. Never
 * truncate a mapped file: a reader of a shrinking mapping would get SIGBUS. Temp files of this
 * process are removed on every exit path; those of a dead process by the next writer or build.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { IdxError, ioError } from "../core/errors";

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

/** A complete, synced new file beside its target, still open (its descriptor may carry a lock). */
export interface TempFile {
  path: string;
  fd: number;
}

/**
 * Creates a temp file beside `target` (with the target's mode when it exists), lets `fill`
 * write it through its descriptor, syncs it (unless `sync` is false) and returns it, still
 * open. The temp file is removed again if anything fails.
 */
/**
 * A new temp name beside `target` (spec §11.1): `.<name>.<pid>.<8 hex digits>.tmp`. The pid lets
 * a later writer tell a dead process's temp file from a live one's; the random part keeps two
 * temp files of one process apart. Not a secret: Math.random will do.
 */
export function tempPathFor(target: string): string {
  const random = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
  return nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.${process.pid}.${random}.tmp`);
}

/**
 * The file a write to `path` replaces: through symlinks, as `cp` and `>` write through them, so a
 * link keeps naming the index (a rename over the link would replace the link itself, and leave
 * the file it named marked retired while still in place). A dangling link, or no file: `path`.
 */
export function writeTarget(path: string): string {
  try {
    return fs.lstatSync(path).isSymbolicLink() ? fs.realpathSync(path) : path;
  } catch {
    return path;
  }
}

/** Marks a temp file of this process for removal on exit (removePendingTempFiles). */
export function registerTemp(path: string): void {
  pending.add(path);
}

export function unregisterTemp(path: string): void {
  pending.delete(path);
}

export function writeTempFileWith(target: string, sync: boolean, fill: (fd: number, tempPath: string) => void): TempFile {
  removeStaleTempFiles(target);
  const dir = nodePath.dirname(target);
  const tmp = tempPathFor(target);
  // §11.1: the mode of the file it replaces, exactly (not reduced by the umask); a new index
  // gets what any new file gets, 0666 less the umask.
  let mode: number | null = null;
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
    fd = fs.openSync(tmp, "wx+", mode ?? 0o666);
  } catch (e) {
    throw ioError(`create a temp file in ${dir || "."}`, target, e, "Check that the output directory exists and is writable.");
  }
  if (mode !== null) {
    try {
      fs.fchmodSync(fd, mode);
    } catch {
      // not allowed here (a file system without modes): the umask's mode stands
    }
  }
  const temp = { path: tmp, fd };
  pending.add(tmp);
  try {
    fill(fd, tmp);
    if (sync) fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    discardTempFile(temp);
    if (e instanceof IdxError) throw e;
    throw ioError("write the new index", target, e, "Free some disk space and try again; the old index is unchanged.");
  }
  return temp;
}

/** writeTempFileWith for bytes already in memory. */
export function writeTempFile(target: string, bytes: Uint8Array, sync = true): TempFile {
  return writeTempFileWith(target, sync, (fd) => {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 30));
  });
}

/**
 * Gives a temp file from writeTempFile the name `target`: renamed over an existing file, or,
 * with `noClobber`, linked only if there is none (returns false, changing nothing, if there is).
 * On failure the temp file is removed. Its descriptor stays open either way: its owner closes it.
 */
export function commitTempFile(temp: TempFile, target: string, sync = true, noClobber = false): boolean {
  try {
    if (noClobber) {
      try {
        fs.linkSync(temp.path, target);
        fs.unlinkSync(temp.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        // A file appeared: the caller locks it and tries again. A dangling symlink is no file
        // and never will be one to lock: it is replaced, or the caller would wait for ever.
        if (!isDanglingLink(target)) return false;
        fs.renameSync(temp.path, target);
      }
    } else {
      fs.renameSync(temp.path, target);
    }
  } catch (e) {
    discardTempFile(temp);
    throw ioError("move the new index into place", target, e);
  }
  pending.delete(temp.path);
  if (sync) syncDirectory(nodePath.dirname(target));
  return true;
}

function isDanglingLink(path: string): boolean {
  try {
    if (!fs.lstatSync(path).isSymbolicLink()) return false;
  } catch {
    return false;
  }
  return !fs.existsSync(path);
}

/** Removes a temp file that will not be used (its descriptor is closed by its owner). */
export function discardTempFile(temp: TempFile): void {
  pending.delete(temp.path);
  try { fs.unlinkSync(temp.path); } catch { /* already gone */ }
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

export function throwIfAborted(signal: { readonly aborted: boolean } | undefined, path: string): void {
  if (signal?.aborted) {
    throw new IdxError("ERR_IDX_INTERRUPTED", "interrupted; the index was not changed", { path });
  }
}
