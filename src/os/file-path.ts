/**
 * The path of an open index, for opening it again (a reader following a replaced file, a writer
 * renaming a grown one over it). A relative path is resolved once, when the index is opened, so
 * a process.chdir() later does not move the index to another file. While the working directory
 * is still the one it was opened in, the path is used as the user gave it, and messages show it
 * that way.
 */
import * as nodePath from "node:path";

export class FilePath {
  readonly given: string;
  readonly #absolute: string;
  readonly #cwd: string | null;

  constructor(given: string) {
    this.given = given;
    this.#absolute = nodePath.resolve(given);
    this.#cwd = nodePath.isAbsolute(given) ? null : currentDirectory();
  }

  /** The path to open now: as given, or resolved where it was given if the directory changed. */
  get now(): string {
    return this.#cwd === null || currentDirectory() === this.#cwd ? this.given : this.#absolute;
  }
}

/** process.cwd() is cached by Node until a chdir; it throws when the directory was removed. */
function currentDirectory(): string | null {
  try {
    return process.cwd();
  } catch {
    return null;
  }
}
