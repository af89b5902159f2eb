/**
 * The writer's stores into its mapping, through the addon's int32-only primitives
 * (native/write.c): a word position as (hi, lo) halves and words as int32s, so that nothing in
 * an operation's bracket (spec §11.2) allocates, and no garbage collection can start while seq
 * is odd. Positions are word indexes from the start of the file. A slot is stored whole: one
 * aligned 8-byte store (versions 1 and 2), or one 16-byte store instruction (version 3, §16.6).
 */
import { Layout } from "../core/format";
import { SlotStores } from "../core/slots";
import { Mapping } from "../os/mapping";
import { NativeAddon } from "../os/native";

const HALF = 2 ** 30;

export class MappingStores implements SlotStores {
  readonly #addon: NativeAddon;
  readonly #id: number;
  /** The word index of slot 0, and the words of a slot. */
  readonly #slots: number;
  readonly #slotWords: number;
  readonly #wideValues: boolean;
  readonly #valueOffset: number;

  constructor(addon: NativeAddon, mapping: Mapping, layout: Layout) {
    this.#addon = addon;
    this.#id = mapping.id;
    this.#slots = layout.headerBytes / 4;
    this.#slotWords = layout.slotWords;
    this.#wideValues = layout.valueBits === 64;
    this.#valueOffset = layout.valueOffset;
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

  store(s: number, words: ArrayLike<number>): void {
    const sw = this.#slotWords;
    const at = this.#slots + s * sw;
    if (sw === 2) {
      this.store8At(at, words[0], words[1]);
    } else {
      this.#addon.storeSlot(this.#id, Math.floor(at / HALF), at % HALF, sw, words[0] | 0, words[1] | 0, words[2] | 0, sw === 4 ? words[3] | 0 : 0);
    }
  }

  copy(to: number, from: number): void {
    const sw = this.#slotWords;
    const t = this.#slots + to * sw;
    const f = this.#slots + from * sw;
    if (sw === 2) this.#addon.copy8(this.#id, Math.floor(t / HALF), t % HALF, Math.floor(f / HALF), f % HALF);
    else this.#addon.copySlot(this.#id, Math.floor(t / HALF), t % HALF, Math.floor(f / HALF), f % HALF, sw);
  }

  storeValue(s: number, low: number, high: number): void {
    const at = this.#slots + s * this.#slotWords + this.#valueOffset;
    if (this.#wideValues) this.#addon.store8u(this.#id, Math.floor(at / HALF), at % HALF, low | 0, high | 0);
    else this.store4At(at, low);
  }
}
