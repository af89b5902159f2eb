/**
 * Deploying an index: a copy of it put in place the way readers follow (spec §11.1, §11.4).
 * `cp` or rsync over a live index rewrite it in place, and its readers meet a file that is
 * neither the old index nor the new one until the copy ends; this copies to a temp file beside
 * the target, checks the copy, and renames it over the target after retiring the old file.
 */
import * as fs from "node:fs";
import { checkMillis, checkOptions, checkPath, describeValue, invalid } from "./core/args";
import { IdxError, ioError } from "./core/errors";
import { CELL_SEQ, MAX_HEADER_BYTES, STATE_RETIRED, readHeader } from "./core/format";
import { TempFile, discardTempFile, writeTarget, writeTempFileWith } from "./os/atomic-file";
import { openRegularFile } from "./os/mapping";
import { installTempFile, refuseToReplace } from "./replace";
import { verifyFile } from "./verify";

export interface CopyOptions {
  /** Replace the target even if it is not an idx index (default false). */
  force?: boolean;
  /** Wait this many ms for a writer of the target to finish (default 0). */
  wait?: number;
  /** Check all of the copy before putting it in place (default true). */
  verify?: boolean;
  /** fsync the copy and its directory (default true). */
  sync?: boolean;
}

const ATTEMPTS = 20;

/**
 * Copies the index at `source` to `target` atomically: readers of `target` see the old index
 * or the new one, and follow to the new one. The source may be written meanwhile: the copy is
 * taken again until no write overlapped it.
 * @throws IdxError ERR_IDX_INVALID_ARGUMENT (the same file), the open errors of IdIndex.open for
 *   the source, ERR_IDX_CHECKSUM or ERR_IDX_CORRUPT (the source is damaged; nothing changed),
 *   ERR_IDX_NOT_AN_INDEX (the target is another kind of file; pass force), ERR_IDX_LOCKED, ERR_IDX_IO.
 */
export function copyIndex(source: string, target: string, options?: CopyOptions): void {
  checkPath("source", source);
  checkPath("target", target);
  const o = checkOptions<CopyOptions>("options", options);
  for (const flag of ["force", "verify", "sync"] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== "boolean") throw invalid(`options.${flag} must be a boolean, not ${describeValue(o[flag])}`, target);
  }
  if (o.wait !== undefined) checkMillis("options.wait", o.wait);
  try {
    const a = fs.statSync(source);
    const b = fs.statSync(target);
    if (a.dev === b.dev && a.ino === b.ino) throw invalid(`${source} and ${target} are the same file`, target);
  } catch (e) {
    if (e instanceof IdxError) throw e;
  }
  target = writeTarget(target);
  refuseToReplace(target, o.force ?? false);
  const sync = o.sync ?? true;
  let temp: TempFile | undefined;
  for (let attempt = 1; temp === undefined; attempt++) {
    temp = copyOnce(source, target, sync);
    if (temp === undefined && attempt === ATTEMPTS) {
      throw new IdxError("ERR_IDX_IO", `was being written during every one of ${ATTEMPTS} attempts to copy it`, {
        path: source, hint: "Copy it when its writer is idle, or copy it with the writer's own copyTo().",
      });
    }
  }
  if (o.verify ?? true) {
    const report = verifyFile(temp.path);
    if (!report.ok) {
      discardTempFile(temp);
      fs.closeSync(temp.fd);
      throw new IdxError("ERR_IDX_CHECKSUM", `is damaged, so it was not copied: ${report.problems[0]?.message.split("\n")[0] ?? "verify failed"}`, {
        path: source, hint: "Run `idx verify` on it to see all the damage; rebuild it from its source pairs.",
      });
    }
  }
  installTempFile(temp, target, sync, o.wait);
}

/** One copy of `source` beside `target`, or undefined when a write overlapped it. */
function copyOnce(source: string, target: string, sync: boolean): TempFile | undefined {
  const { fd: src, stat } = openRegularFile(source, false);
  try {
    const head = Buffer.alloc(MAX_HEADER_BYTES);
    const n = fs.readSync(src, head, 0, Math.min(stat.size, MAX_HEADER_BYTES), 0);
    const header = readHeader(head.subarray(0, n), stat.size, source);
    if (header.retired) {
      throw new IdxError("ERR_IDX_IO", "was replaced by a newer file (it is marked retired), so it was not copied", {
        path: source, hint: "Copy the file now at that path.",
      });
    }
    const before = header.seq;
    if ((before & 1) === 1 || header.dirtyCount > 0) return undefined; // a writer is mid-operation
    const temp = writeTempFileWith(target, sync, (fd) => {
      const chunk = Buffer.allocUnsafe(1 << 20);
      for (let at = 0; at < stat.size; ) {
        const got = fs.readSync(src, chunk, 0, Math.min(chunk.length, stat.size - at), at);
        if (got === 0) throw ioError("read the index", source, new Error("it became shorter while it was copied"));
        let done = 0;
        while (done < got) done += fs.writeSync(fd, chunk, done, got - done, at + done);
        at += got;
      }
    });
    const seq = Buffer.alloc(4);
    fs.readSync(src, seq, 0, 4, CELL_SEQ);
    const state = Buffer.alloc(4);
    fs.readSync(src, state, 0, 4, 32);
    if (seq.readUInt32LE(0) !== before || (state.readUInt32LE(0) & STATE_RETIRED) !== 0) {
      discardTempFile(temp);
      fs.closeSync(temp.fd);
      return undefined;
    }
    return temp;
  } finally {
    fs.closeSync(src);
  }
}
