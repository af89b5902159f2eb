/**
 * The temp files of a spilled build (spill.ts): created beside the target, appended to a buffer
 * at a time, read back, removed. A file is open only while it is written or read, so a build
 * keeps a few descriptors whatever the number of groups; every file is registered with
 * os/atomic-file.ts, so an exit or a signal removes what is left, and a killed build's are
 * removed by the next writer or build.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { ioError } from "../core/errors";
import { registerTemp, tempPathFor, unregisterTemp } from "../os/atomic-file";

export class TempFiles {
  readonly #path: string;
  readonly #temps = new Set<string>();
  /** Bytes a record, for the message of a full disk. */
  recordBytes = 8;
  #bytes = 0;
  #peak = 0;

  /** `path`: the index being built; the files go beside it. */
  constructor(path: string) {
    this.#path = path;
  }

  /** Bytes of temp files the build needed at most. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Appends `words` to `file` (created first when null: a new name is returned); the file is closed again. */
  append(file: string | null, words: Uint32Array): string {
    let fd: number;
    if (file === null) {
      ({ file, fd } = this.#create());
    } else {
      try {
        fd = fs.openSync(file, "a");
      } catch (e) {
        throw ioError("open a temp file of the build", this.#path, e);
      }
    }
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, null);
    } catch (e) {
      throw ioError("write a temp file of the build", this.#path, e,
        `Free some disk space beside the output (a large build needs about ${this.recordBytes} bytes a pair there for a while) and try again.`);
    } finally {
      fs.closeSync(fd);
    }
    this.#bytes += bytes.length;
    this.#peak = Math.max(this.#peak, this.#bytes);
    return file;
  }

  /**
   * A new temp file beside the target, open for writing. A build of many small groups has tens of
   * thousands at once, so two random names may meet: then another is drawn.
   */
  #create(): { file: string; fd: number } {
    for (let attempt = 1; ; attempt++) {
      const file = tempPathFor(this.#path);
      try {
        const fd = fs.openSync(file, "wx", 0o600);
        registerTemp(file);
        this.#temps.add(file);
        return { file, fd };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST" && attempt < 100) continue;
        throw ioError(`create a temp file in ${nodePath.dirname(this.#path)}`, this.#path, e, "Check that the output directory exists and is writable.");
      }
    }
  }

  openForReading(file: string): number {
    try {
      return fs.openSync(file, "r");
    } catch (e) {
      throw ioError("read a temp file of the build", this.#path, e);
    }
  }

  /** Reads `words` words at byte `position` of the open file `fd` into `into`. */
  read(fd: number, into: Uint32Array, words: number, position: number): void {
    const bytes = new Uint8Array(into.buffer, into.byteOffset, words * 4);
    let done = 0;
    try {
      while (done < bytes.length) {
        const n = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
        if (n === 0) throw new Error("a temp file of the build is shorter than what was written to it");
        done += n;
      }
    } catch (e) {
      throw ioError("read a temp file of the build", this.#path, e);
    }
  }

  remove(file: string): void {
    try {
      this.#bytes -= fs.statSync(file).size;
      fs.unlinkSync(file);
    } catch {
      // gone already
    }
    unregisterTemp(file);
    this.#temps.delete(file);
  }

  /** Removes every file (on success, error or abort). */
  dispose(): void {
    for (const file of [...this.#temps]) this.remove(file);
  }
}
