/** Opening an index file, the one way both the mapping reader and the pread reader do it. */
import * as fs from "node:fs";
import { IdxError, ioError } from "./errors";

/**
 * Opens `path` and checks it is a regular file. The caller owns the descriptor.
 * @throws IdxError ERR_IDX_IO naming the path (missing, unreadable, a directory...).
 */
export function openIndexFile(path: string, writable: boolean): { fd: number; stat: fs.Stats } {
  let fd: number;
  try {
    fd = fs.openSync(path, writable ? "r+" : "r");
  } catch (e) {
    throw ioError("open the index", path, e, "Check the path and its permissions.");
  }
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw ioError("read the index", path, e);
  }
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new IdxError("ERR_IDX_IO", "cannot read the index: it is not a regular file", { path, hint: "Pass the path of an index file." });
  }
  return { fd, stat };
}
