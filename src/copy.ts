/**
 * Deploying an index: a copy of it put in place the way readers follow (spec §11.1, §11.4).
 * `cp` or rsync over a live index rewrite it in place, and its readers meet a file that is
 * neither the old index nor the new one until the copy ends; this copies to a temp file beside
 * the target, checks the copy, and renames it over the target after retiring the old file.
 */
import * as fs from "node:fs";
import { checkMillis, checkOptions, checkPath, describeValue, invalid } from "./core/args";
import { IdxError, ioError } from "./core/errors";
import { CELL_SEQ, CELL_STATE, MAX_HEADER_BYTES, STATE_RETIRED, readHeader } from "./core/format";
import { NO_DEAD_SEQ, SeqSource, StallClock, quietRead } from "./core/protocol";
import { TempFile, discardTempFile, writeTarget, writeTempFileWith } from "./os/atomic-file";
import { writerGoneOn } from "./os/lock";
import { openRegularFile } from "./os/mapping";
import { ReplaceOutcome, installTempFile, refuseToReplace } from "./replace";
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
 * taken again until no write overlapped it. Returns what happened to the old target: an index
 * this process may not write cannot be marked retired (`retired` false, `why` says why), and
 * only readers that watch the path (idx's, idxmap's) then follow, within about 100 ms.
 * @throws IdxError ERR_IDX_INVALID_ARGUMENT (the same file), the open errors of IdIndex.open for
 *   the source, ERR_IDX_CHECKSUM or ERR_IDX_CORRUPT (the source is damaged; nothing changed),
 *   ERR_IDX_NOT_AN_INDEX (the target is another kind of file; pass force), ERR_IDX_LOCKED, ERR_IDX_IO.
 */
export function copyIndex(source: string, target: string, options?: CopyOptions): ReplaceOutcome {
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
  const temp = copyQuietly(source, target, sync);
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
  return installTempFile(temp, target, sync, o.wait);
}

/**
 * A copy of `source` beside `target`, made between two reads of its seq that show no write
 * under way (spec §11.7, core/protocol.ts quietRead): a writer working on the source meanwhile
 * makes it copy again. A retired source is refused: the index is the file now at its path.
 */
function copyQuietly(source: string, target: string, sync: boolean): TempFile {
  const { fd: src, stat } = openRegularFile(source, false);
  let temp: TempFile | undefined;
  const drop = () => {
    if (temp === undefined) return;
    discardTempFile(temp);
    fs.closeSync(temp.fd);
    temp = undefined;
  };
  try {
    const head = Buffer.alloc(MAX_HEADER_BYTES);
    const word = (offset: number) => {
      if (fs.readSync(src, head, 0, 4, offset) !== 4) throw ioError("read the index", source, new Error("it became shorter while it was copied"));
      return head.readUInt32LE(0);
    };
    readHeader(head.subarray(0, fs.readSync(src, head, 0, Math.min(stat.size, MAX_HEADER_BYTES), 0)), stat.size, source);
    let dead = NO_DEAD_SEQ;
    const file: SeqSource = {
      seq: () => word(CELL_SEQ),
      dead: () => dead,
      writerGone: () => writerGoneOn(src),
      markDead: (seq) => (dead = seq),
    };
    return quietRead(() => {
      drop();
      if ((word(CELL_STATE) & STATE_RETIRED) !== 0) {
        throw new IdxError("ERR_IDX_IO", "was replaced by a newer file (it is marked retired), so it was not copied", {
          path: source, hint: "Copy the file now at that path.",
        });
      }
      temp = writeTempFileWith(target, sync, (fd) => {
        const chunk = Buffer.allocUnsafe(1 << 20);
        for (let at = 0; at < stat.size; ) {
          const got = fs.readSync(src, chunk, 0, Math.min(chunk.length, stat.size - at), at);
          if (got === 0) throw ioError("read the index", source, new Error("it became shorter while it was copied"));
          let done = 0;
          while (done < got) done += fs.writeSync(fd, chunk, done, got - done, at + done);
          at += got;
        }
      });
      return temp;
    }, file, {
      retired: () => false, // refused above
      clock: new StallClock(),
      attempts: ATTEMPTS,
      busy: () => {
        throw new IdxError("ERR_IDX_IO", `was being written during every one of ${ATTEMPTS} attempts to copy it`, {
          path: source, hint: "Copy it when its writer is idle, or copy it with the writer's own copyTo().",
        });
      },
    });
  } catch (e) {
    drop();
    throw e;
  } finally {
    fs.closeSync(src);
  }
}

