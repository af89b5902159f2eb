/**
 * The writer's stores into its mapping, through the addon's int32-only primitives
 * (native/write.c): a word position as (hi, lo) halves and words as int32s, so that nothing in
 * an operation's bracket (spec §11.2) allocates, and no garbage collection can start while seq
 * is odd. Positions are word indexes from the start of the file.
 */
import { SLOT_WORDS } from "../core/format";
import { SlotStores } from "../core/slots";
import { Mapping } from "../os/mapping";
import { NativeAddon } from "../os/native";

const HALF = 2 ** 30;

export class MappingStores implements SlotStores {
  readonly #addon: NativeAddon;
  readonly #id: number;
  /** The word index of slot 0. */
  readonly #slots: number;

  constructor(addon: NativeAddon, mapping: Mapping, headerBytes: number) {
    this.#addon = addon;
    this.#id = mapping.id;
    this.#slots = headerBytes / 4;
  }

  /** Words `word`, `word + 1` := w0, w1 in one 8-byte store (a cell: its word, then its check). */
  store8At(word: number, w0: number, w1: number): void {
    this.#addon.store8(this.#id, Math.floor(word / HALF), word % HALF, w0 | 0, w1 | 0);
  }

  store4At(word: number, w: number): void {
    this.#addon.store4(this.#id, Math.floor(word / HALF), word % HALF, w | 0);
  }

  /** CRC-32 of `words` words from `word`. */
  crcAt(word: number, words: number): number {
    return this.#addon.crc(this.#id, Math.floor(word / HALF), word % HALF, words) >>> 0;
  }

  /** Makes the pages of `words` words from `word` present and writable, changing nothing. */
  touchAt(word: number, words: number): void {
    this.#addon.touch(this.#id, Math.floor(word / HALF), word % HALF, words);
  }

  store(s: number, hash: number, value: number): void {
    this.store8At(this.#slots + s * SLOT_WORDS, hash, value);
  }

  copy(to: number, from: number): void {
    const t = this.#slots + to * SLOT_WORDS;
    const f = this.#slots + from * SLOT_WORDS;
    this.#addon.copy8(this.#id, Math.floor(t / HALF), t % HALF, Math.floor(f / HALF), f % HALF);
  }

  storeValue(s: number, value: number): void {
    this.store4At(this.#slots + s * SLOT_WORDS + 1, value);
  }
}
