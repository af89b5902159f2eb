/**
 * Where core/cells.ts reaches a file's header cells: a writable mapping, whose cells are stored
 * by the addon in one aligned 8-byte store each (its check computed in C: nothing allocated, so a
 * writer's bracket stays free of garbage collections, spec §11.2); or a file descriptor, for
 * retiring a file without the addon (§11.4), where each cell is one 8-byte pwrite.
 */
import * as fs from "node:fs";
import { CellStore } from "../core/cells";
import { ioError } from "../core/errors";
import { cellCheck } from "../core/format";
import { Mapping } from "./mapping";
import { NativeAddon } from "./native";

export class MappedCellStore implements CellStore {
  readonly #words: Uint32Array;
  readonly #addon: NativeAddon;
  readonly #id: number;

  /** `words` views the mapped header (loads); stores go through the addon. */
  constructor(words: Uint32Array, addon: NativeAddon, mapping: Mapping) {
    this.#words = words;
    this.#addon = addon;
    this.#id = mapping.id;
  }

  load(offset: number): number {
    return this.#words[offset >>> 2];
  }

  store(offset: number, word: number): void {
    this.#addon.storeCell(this.#id, offset, word | 0);
  }
}

export class FileCellStore implements CellStore {
  readonly #fd: number;
  readonly #path: string;
  readonly #word = Buffer.alloc(8);

  constructor(fd: number, path: string) {
    this.#fd = fd;
    this.#path = path;
  }

  load(offset: number): number {
    try {
      if (fs.readSync(this.#fd, this.#word, 0, 4, offset) !== 4) throw new Error("the file is shorter than its header");
    } catch (e) {
      throw ioError("read the index", this.#path, e);
    }
    return this.#word.readUInt32LE(0);
  }

  store(offset: number, word: number): void {
    this.#word.writeUInt32LE(word >>> 0, 0);
    this.#word.writeUInt32LE(cellCheck(offset, word), 4);
    try {
      if (fs.writeSync(this.#fd, this.#word, 0, 8, offset) !== 8) throw new Error("a short write");
    } catch (e) {
      throw ioError("write the index", this.#path, e);
    }
  }
}
