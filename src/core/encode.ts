/**
 * Pairs in memory -> the complete bytes of an index file, in the canonical layout of
 * spec/FORMAT.md §7: entries sorted by hash and placed in order, so the same map always gives
 * the same bytes, whatever order or duplicates the input had. Pure: no files; the addon's
 * faster loops come in through an Accelerator, which must compute exactly what the JS twins
 * below compute (the tests run both).
 */
import { crc32 } from "./crc32";
import { IdxError } from "./errors";
import {
  BLOCK_BYTES, BUILD_LOAD_DEN, BUILD_LOAD_NUM, CHECKSUM_BYTES, EMPTY_HASH, LAYOUT_V2, Layout, SLOT_WORDS,
  SPILL_SLOTS, blockCount, buildCapacity, checksumsOffset, fileBytes, Width, writeHeader,
} from "./format";
import { hash32, hash64Into, unhash32 } from "./hash";
import { PairBuffer, splitWordsJs } from "./pairs";
import { Word } from "./slots";
import { Placer, fillEmpty } from "./table";

/** The builder's loops, in C when the addon is there (os/native.ts), else the JS twins below. */
export interface Accelerator {
  /** hashSortJs. */
  hashSort(keys: Uint32Array, values: Uint32Array, n: number, result: Float64Array): void;
  /** placeSortedJs. */
  placeSorted(slots: Uint32Array | null, hashes: Uint32Array, values: Uint32Array, n: number, capacity: number, result: Float64Array): void;
  /** scatterPairsJs. */
  scatterPairs(keys: Uint32Array, values: Uint32Array, n: number, out: Uint32Array, counts: Uint32Array, result: Float64Array): void;
  /** scatterHashedJs. */
  scatterHashed(pairs: Uint32Array, n: number, shift: number, out: Uint32Array, counts: Uint32Array): void;
  /** sortHashedJs. */
  sortHashed(pairs: Uint32Array, n: number, hashes: Uint32Array, values: Uint32Array, result: Float64Array): void;
  /** hashRecordsJs (version 3). */
  hashRecords(
    keysLow: Uint32Array, keysHigh: Uint32Array | null, valuesLow: Uint32Array, valuesHigh: Uint32Array | null, from: number, n: number,
    keyBits: number, out: Uint32Array, result: Float64Array,
  ): void;
  /**
   * A zeroed Uint32Array of n words (the addon's in huge pages, a build's large arrays fault in
   * less; with smallPages, 4 KiB pages, which can reuse pages just given back).
   */
  words(n: number, smallPages?: boolean): Uint32Array;
  /** sortRecordsJs (version 3); with scratch null, the result is always in records. */
  sortRecords(records: Uint32Array, n: number, wideKeys: number, scratch: Uint32Array | null): number;
  /** Gives an array from words() back to the system now (the addon's; it then reads as zeros); JS: nothing. */
  discard(words: Uint32Array): void;
  /** core/pairs.ts splitWordsJs: a BigUint64Array column's words into a PairBuffer's columns. */
  splitWords(words: Uint32Array, from: number, n: number, low: Uint32Array, high: Uint32Array | null, at: number): void;
  /**
   * hashSortRecordsJs (version 3): hashRecords from 0, sortRecords in place, keepLastOfEqualRecords.
   * With release (the addon's, on columns from words()), the columns are consumed (sortedRecordsOf).
   */
  hashSortRecords(
    keysLow: Uint32Array, keysHigh: Uint32Array | null, valuesLow: Uint32Array, valuesHigh: Uint32Array | null, n: number,
    keyBits: number, out: Uint32Array, result: Float64Array, release?: boolean,
  ): void;
  /** blockChecksumsJs. */
  blockChecksums(data: Uint8Array, blockBytes: number, out: Uint8Array): void;
  /**
   * hashScatterRecordsJs: hashSortRecords's records, grouped by their hash's top bits but not
   * yet sorted (sortBucket sorts each group); result[4] the bits, sizes[d] group d's records.
   */
  hashScatterRecords(
    keysLow: Uint32Array, keysHigh: Uint32Array | null, valuesLow: Uint32Array, valuesHigh: Uint32Array | null, n: number,
    keyBits: number, out: Uint32Array, result: Float64Array, release: boolean, sizes: Uint32Array,
  ): void;
  /** sortBucketJs. */
  sortBucket(records: Uint32Array, from: number, count: number, keyBits: number, bucketBits: number, scratch: Uint32Array): number;
}

export const JS_ACCELERATOR: Accelerator = {
  hashSort: hashSortJs, placeSorted: placeSortedJs, scatterPairs: scatterPairsJs, scatterHashed: scatterHashedJs,
  sortHashed: sortHashedJs, hashRecords: hashRecordsJs, sortRecords: sortRecordsJs, words: (n) => new Uint32Array(n),
  hashSortRecords: hashSortRecordsJs, splitWords: splitWordsJs, discard: () => {}, blockChecksums: blockChecksumsJs,
  hashScatterRecords: hashScatterRecordsJs, sortBucket: sortBucketJs,
};

/** The largest file image built in memory (a Buffer on Node 20 holds at most 4 GiB). */
export const MAX_IMAGE_BYTES = 2 ** 32 - 4096;

/**
 * The complete file image for the first `n` pairs of the columns: a pure function of the map
 * they describe (last value wins per key) and of the capacity rule. `keys` is overwritten with
 * hashes. `capacityFor` maps the entry count to a capacity: the builder's rule by default
 * (§7), a roomier one when a writer grows the table (§11.5).
 * @throws IdxError ERR_IDX_TOO_LARGE when the file would exceed the format's limit.
 */
export function encodeIndex(
  keys: Uint32Array,
  values: Uint32Array,
  n: number,
  path = "<memory>",
  capacityFor: (entries: number) => number = buildCapacity,
  accel: Accelerator = JS_ACCELERATOR,
): Buffer {
  const sorted = new Float64Array(3);
  accel.hashSort(keys, values, n, sorted);
  const [unique, escapedPresent, escapedValue] = sorted;
  return encodeSorted(keys, values, unique, escapedPresent === 1 ? escapedValue : undefined, path, capacityFor, accel);
}

/**
 * The image for hashes[0..n) (sorted, distinct, none EMPTY) with their values, and the escaped
 * key's value if it is present.
 */
export function encodeSorted(
  hashes: Uint32Array,
  values: Uint32Array,
  n: number,
  escaped: number | undefined,
  path: string,
  capacityFor: (entries: number) => number = buildCapacity,
  accel: Accelerator = JS_ACCELERATOR,
): Buffer {
  const layout = LAYOUT_V2;
  const capacity = capacityFor(n);
  const placed = new Float64Array(2);
  accel.placeSorted(null, hashes, values, n, capacity, placed);
  const slotCount = Math.max(capacity, placed[0]) + SPILL_SLOTS;
  checkSize(layout, slotCount, n, path);
  const bytes = fileBytes(layout, slotCount);
  if (bytes > MAX_IMAGE_BYTES) {
    throw new IdxError("ERR_IDX_TOO_LARGE", `${n} entries make a ${bytes}-byte file, too large to lay out in memory`, {
      path, hint: "Build it from a stream or a file (idx build), which writes large indexes in bounded memory.",
    });
  }
  // Not zeroed: the header, every slot and every checksum are written below.
  const file = Buffer.allocUnsafeSlow(bytes);
  const slots = new Uint32Array(file.buffer, file.byteOffset + layout.headerBytes, slotCount * SLOT_WORDS);
  accel.placeSorted(slots, hashes, values, n, capacity, placed);
  const slotsEnd = checksumsOffset(layout, slotCount);
  const sums = file.subarray(slotsEnd, slotsEnd + blockCount(slotCount, layout.slotsPerBlock) * CHECKSUM_BYTES);
  accel.blockChecksums(file.subarray(layout.headerBytes, slotsEnd), BLOCK_BYTES, sums);
  writeHeader(file, {
    capacity, slotCount, entries: n, escapedPresent: escaped !== undefined, escapedValue: escaped ?? 0, reach: placed[1],
  });
  return file;
}

/** Throws ERR_IDX_TOO_LARGE when `slotCount` slots pass the format's limit (§8). */
export function checkSize(layout: Layout, slotCount: number, entries: number, path: string): void {
  if (slotCount > layout.maxSlotCount) {
    throw new IdxError("ERR_IDX_TOO_LARGE",
      `${entries} entries need ${slotCount} slots; a version ${layout.major} index holds at most ${layout.maxSlotCount} (about ${Math.floor(((layout.maxSlotCount - SPILL_SLOTS) * BUILD_LOAD_NUM) / BUILD_LOAD_DEN)} entries)`,
      { path, hint: "Split the keys across several indexes (by key range, for example)." });
  }
}

/**
 * The first step of encodeIndex (the addon's hashSort computes the same): replaces keys[0..n)
 * with their hashes, sorted, one per distinct key with the value of its last pair, and values
 * to match. The escaped key (whose hash is EMPTY_HASH) goes to the header, not a slot.
 * result = [distinct hashes, escaped key present (0/1), its value].
 */
export function hashSortJs(keys: Uint32Array, values: Uint32Array, n: number, result: Float64Array): void {
  let escaped = 0;
  let escapedValue = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const hash = hash32(keys[i]);
    if (hash === EMPTY_HASH) {
      escaped = 1;
      escapedValue = values[i];
      continue;
    }
    keys[m] = hash;
    values[m] = values[i];
    m++;
  }
  const [sortedHashes, sortedValues] = sortByHash(keys, values, m);
  const unique = keepLastOfEqualRuns(sortedHashes, sortedValues, m);
  if (sortedHashes !== keys) {
    keys.set(sortedHashes.subarray(0, unique));
    values.set(sortedValues.subarray(0, unique));
  }
  result[0] = unique;
  result[1] = escaped;
  result[2] = escapedValue;
}

/**
 * §7 steps 4 and 6 (the addon's placeSorted computes the same): places hashes[0..n) (sorted,
 * distinct) at `capacity` into `slots`, every other slot empty; with `slots` null, only
 * measures. result = [the slot after the last entry, the largest slot - home].
 */
export function placeSortedJs(
  slots: Uint32Array | null, hashes: Uint32Array, values: Uint32Array, n: number, capacity: number, result: Float64Array,
): void {
  const placer = new Placer(capacity);
  if (slots === null) {
    placer.skip(hashes, 0, n);
  } else {
    const [placed] = placer.place(hashes, values, 0, n, slots);
    if (placed !== n) throw new RangeError("placeSorted: the slots are too short for the entries");
    fillEmpty(slots, placer.next * SLOT_WORDS, slots.length);
  }
  result[0] = placer.next;
  result[1] = placer.reach;
}

/**
 * The §6 checksum of each blockBytes of data (the last block the rest), little-endian at
 * out[4b..4b + 4) (the addon's blockChecksums computes the same, with the CPU's CRC instructions).
 */
export function blockChecksumsJs(data: Uint8Array, blockBytes: number, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  for (let b = 0, at = 0; at < data.length; b++, at += blockBytes) {
    view.setUint32(b * CHECKSUM_BYTES, crc32(data.subarray(at, Math.min(at + blockBytes, data.length))), true);
  }
}

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const RADIX_MASK = RADIX - 1;
/** 3 passes of 11 bits cover the 32-bit hash. */
const PASSES = 3;

/**
 * LSD radix sort of (hash, value) by hash, 11 bits a pass. Stable, which is what makes "the
 * last duplicate wins" hold after sorting. Returns the arrays holding the result.
 */
export function sortByHash(hashes: Uint32Array, values: Uint32Array, n: number): [Uint32Array, Uint32Array] {
  let srcH = hashes, srcV = values;
  let dstH = new Uint32Array(n), dstV = new Uint32Array(n);
  // All three digit histograms in one pass over the hashes.
  const counts = new Uint32Array(RADIX * PASSES);
  for (let i = 0; i < n; i++) {
    const h = srcH[i];
    counts[h & RADIX_MASK]++;
    counts[RADIX + ((h >>> RADIX_BITS) & RADIX_MASK)]++;
    counts[2 * RADIX + (h >>> (2 * RADIX_BITS))]++;
  }
  for (let pass = 0; pass < PASSES; pass++) {
    const base = pass * RADIX;
    const shift = pass * RADIX_BITS;
    let sum = 0;
    for (let d = base; d < base + RADIX; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const h = srcH[i];
      const pos = counts[base + ((h >>> shift) & RADIX_MASK)]++;
      dstH[pos] = h;
      dstV[pos] = srcV[i];
    }
    [srcH, dstH] = [dstH, srcH];
    [srcV, dstV] = [dstV, srcV];
  }
  return [srcH, srcV];
}

/** Compacts sorted (hash, value) so each hash appears once, with its last value. Returns the count. */
export function keepLastOfEqualRuns(hashes: Uint32Array, values: Uint32Array, n: number): number {
  let w = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && hashes[i + 1] === hashes[i]) continue;
    hashes[w] = hashes[i];
    values[w] = values[i];
    w++;
  }
  return w;
}

/** Groups of a spill: the hash's top byte, 256 of them. */
export const GROUPS = 256;

/**
 * The builder's spill step (the addon's scatterPairs computes the same): hashes keys[0..n) and
 * writes the pairs as (hash, value) into `out`, grouped by the hash's top byte in that order,
 * keeping input order within a group; counts[g] = pairs of group g. The escaped key is left
 * out: result = [present (0/1), its last value].
 */
export function scatterPairsJs(keys: Uint32Array, values: Uint32Array, n: number, out: Uint32Array, counts: Uint32Array, result: Float64Array): void {
  const hashes = new Uint32Array(n);
  for (let i = 0; i < n; i++) hashes[i] = hash32(keys[i]);
  let escaped = 0;
  let escapedValue = 0;
  counts.fill(0, 0, GROUPS);
  for (let i = 0; i < n; i++) if (hashes[i] !== EMPTY_HASH) counts[hashes[i] >>> 24]++;
  const starts = groupStarts(counts);
  for (let i = 0; i < n; i++) {
    const h = hashes[i];
    if (h === EMPTY_HASH) {
      escaped = 1;
      escapedValue = values[i];
      continue;
    }
    const at = starts[h >>> 24]++;
    out[2 * at] = h;
    out[2 * at + 1] = values[i];
  }
  result[0] = escaped;
  result[1] = escapedValue;
}

/** scatterPairsJs for pairs already hashed, grouped by bits shift..shift+7 of the hash. */
export function scatterHashedJs(pairs: Uint32Array, n: number, shift: number, out: Uint32Array, counts: Uint32Array): void {
  counts.fill(0, 0, GROUPS);
  for (let i = 0; i < n; i++) counts[(pairs[2 * i] >>> shift) & 0xff]++;
  const starts = groupStarts(counts);
  for (let i = 0; i < n; i++) {
    const h = pairs[2 * i];
    const at = starts[(h >>> shift) & 0xff]++;
    out[2 * at] = h;
    out[2 * at + 1] = pairs[2 * i + 1];
  }
}

function groupStarts(counts: Uint32Array): Uint32Array {
  const starts = new Uint32Array(GROUPS);
  let sum = 0;
  for (let g = 0; g < GROUPS; g++) {
    starts[g] = sum;
    sum += counts[g];
  }
  return starts;
}

/**
 * (hash, value) pairs in input order -> hashes[0..m) and values[0..m): sorted by hash, one per
 * hash with the value of its last pair (the addon's sortHashed computes the same). result[0] = m.
 */
export function sortHashedJs(pairs: Uint32Array, n: number, hashes: Uint32Array, values: Uint32Array, result: Float64Array): void {
  const h = new Uint32Array(n);
  const v = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    h[i] = pairs[2 * i];
    v[i] = pairs[2 * i + 1];
  }
  const [sh, sv] = sortByHash(h, v, n);
  const m = keepLastOfEqualRuns(sh, sv, n);
  hashes.set(sh.subarray(0, m));
  values.set(sv.subarray(0, m));
  result[0] = m;
}

// ---- version 3: entries as four-word records (hash low, high, value low, high) ----

/**
 * Sorts the first `n` records of `records` (four words each: hash low, hash high, value low,
 * value high) by hash, stably, through `accel`; returns the array holding the result (`records`,
 * or `scratch`, made when not given).
 */
export function sortRecordsByHash(records: Uint32Array, n: number, wideKeys: boolean, scratch?: Uint32Array, accel: Accelerator = JS_ACCELERATOR): Uint32Array {
  const other = scratch !== undefined && scratch.length >= n * 4 ? scratch : null;
  return accel.sortRecords(records, n, wideKeys ? 1 : 0, other) === 0 ? records : other!;
}

/**
 * The same as the addon's sortRecords: by LSD radix sort of 16 bits a pass, two passes on the
 * hash's one word for 32-bit keys, four for 64-bit keys (high word last, so it orders first).
 * Stable, which is what makes "the last duplicate wins" hold after sorting. Returns 0 when the
 * result is in `records`, 1 when in `scratch`.
 */
export function sortRecordsJs(records: Uint32Array, n: number, wideKeys: number, scratch: Uint32Array | null): number {
  let src = records;
  let dst = scratch ?? new Uint32Array(Math.max(1, n) * 4);
  const counts = radixCounts;
  const digits = wideKeys ? [[0, 0], [0, 16], [1, 0], [1, 16]] : [[0, 0], [0, 16]];
  for (const [word, shift] of digits) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(src[4 * i + word] >>> shift) & 0xffff]++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const at = 4 * counts[(src[4 * i + word] >>> shift) & 0xffff]++;
      dst[at] = src[4 * i];
      dst[at + 1] = src[4 * i + 1];
      dst[at + 2] = src[4 * i + 2];
      dst[at + 3] = src[4 * i + 3];
    }
    [src, dst] = [dst, src];
  }
  if (scratch === null && src !== records) records.set(src.subarray(0, 4 * n));
  return src === records || scratch === null ? 0 : 1;
}

const radixCounts = new Uint32Array(65536);

/** Compacts sorted records so each hash appears once, with its last record. Returns the count. */
export function keepLastOfEqualRecords(records: Uint32Array, n: number): number {
  let w = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && records[4 * i + 4] === records[4 * i] && records[4 * i + 5] === records[4 * i + 1]) continue;
    if (w !== i) records.copyWithin(4 * w, 4 * i, 4 * i + 4);
    w++;
  }
  return w;
}

/** Whether record `i` of `a` has a smaller hash than record `j` of `b` (-1), the same (0), or a larger (1). */
export function compareRecordHashes(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  const ah = a[4 * i + 1];
  const bh = b[4 * j + 1];
  if (ah !== bh) return ah < bh ? -1 : 1;
  const al = a[4 * i];
  const bl = b[4 * j];
  return al === bl ? 0 : al < bl ? -1 : 1;
}

/** Entries as four-word records (core/table.ts putRecord), sorted by hash, distinct; the escaped key apart. */
export interface SortedRecords {
  records: Uint32Array;
  length: number;
  /** The escaped key's value, if the pairs set it. */
  escaped?: Word;
}

/**
 * The pairs of `pairs` as slot records of a file with keys of `keyBits` (§16.3: hash32 of a
 * 32-bit key in the low word, or the hash64's two words), sorted by hash, each key once with
 * its last value, the escaped key's value apart: what a writer merges or applies in hash order.
 * Every key must fit `keyBits`. With `consume` (a builder's columns from accel.words), the
 * addon consumes the columns: it leaves the keys' hashes in the key columns (its scatter reads
 * them there instead of hashing again) and gives the pages back as it reads them, for the
 * records to reuse. The caller drops the columns after.
 */
export function sortedRecordsOf(pairs: PairBuffer, keyBits: Width, accel: Accelerator = JS_ACCELERATOR, consume = false): SortedRecords {
  const n = pairs.length;
  const records = accel.words(Math.max(1, n) * 4, consume);
  const r = new Float64Array(4);
  accel.hashSortRecords(pairs.keys, pairs.keysHigh, pairs.values, pairs.valuesHigh, n, keyBits, records, r, consume);
  const result: SortedRecords = { records, length: r[0] };
  const escaped = escapedOf(r);
  if (escaped !== undefined) result.escaped = escaped;
  return result;
}

/** Records grouped by their hash's top `bits` bits, each group still in input order (hashScatterRecords). */
export interface ScatteredRecords {
  records: Uint32Array;
  /** Records written: the pairs but the escaped key's. */
  length: number;
  bits: number;
  /** sizes[d]: group d's records, which follow group d - 1's. */
  sizes: Uint32Array;
  /** The escaped key's value, if the pairs set it. */
  escaped?: Word;
}

/**
 * sortedRecordsOf's first half: the records of `pairs`, grouped by their hash's top bits, for
 * the caller to sort group by group (accel.sortBucket) and use each while it is in cache.
 * `consume` as sortedRecordsOf's.
 */
export function scatteredRecordsOf(pairs: PairBuffer, keyBits: Width, accel: Accelerator = JS_ACCELERATOR, consume = false): ScatteredRecords {
  const n = pairs.length;
  const records = accel.words(Math.max(1, n) * 4, consume);
  const r = new Float64Array(5);
  const sizes = new Uint32Array(1 << 11); // the most groups there are (recordBucketBits)
  accel.hashScatterRecords(pairs.keys, pairs.keysHigh, pairs.values, pairs.valuesHigh, n, keyBits, records, r, consume, sizes);
  const result: ScatteredRecords = { records, length: r[0], bits: r[4], sizes: sizes.subarray(0, 1 << r[4]) };
  const escaped = escapedOf(r);
  if (escaped !== undefined) result.escaped = escaped;
  return result;
}

/**
 * The same as the addon's hashSortRecords: hashRecordsJs, sortRecordsJs into `out`, and each
 * hash once with its last value; result[0] is the records kept.
 */
export function hashSortRecordsJs(
  keys: Uint32Array, keysHigh: Uint32Array | null, values: Uint32Array, valuesHigh: Uint32Array | null, n: number,
  keyBits: number, out: Uint32Array, result: Float64Array,
): void {
  hashRecordsJs(keys, keysHigh, values, valuesHigh, 0, n, keyBits, out, result);
  sortRecordsJs(out, result[0], keyBits === 64 ? 1 : 0, null);
  result[0] = keepLastOfEqualRecords(out, result[0]);
}

/**
 * The top bits hashScatterRecords groups n pairs' records by (the addon's rule, which the tests
 * hold this to): groups of 2^16 to 2^17 records, 16 to 2048 of them.
 */
export function recordBucketBits(n: number): number {
  let bits = 4;
  while (bits < 11 && Math.floor(n / 2 ** (17 + bits)) !== 0) bits++;
  return bits;
}

/**
 * The same as the addon's hashScatterRecords: hashRecordsJs, then the records grouped into
 * `out` by the top recordBucketBits(n) bits of their hash, input order kept within a group;
 * result = [records, escaped seen, its value's low word, high word, bits], sizes[d] group d's.
 */
export function hashScatterRecordsJs(
  keys: Uint32Array, keysHigh: Uint32Array | null, values: Uint32Array, valuesHigh: Uint32Array | null, n: number,
  keyBits: number, out: Uint32Array, result: Float64Array, _release: boolean, sizes: Uint32Array,
): void {
  const records = new Uint32Array(Math.max(1, n) * 4);
  hashRecordsJs(keys, keysHigh, values, valuesHigh, 0, n, keyBits, records, result);
  const m = result[0];
  const bits = recordBucketBits(n);
  const groupOf = (i: number) => (keyBits === 64 ? records[4 * i + 1] : records[4 * i]) >>> (32 - bits);
  sizes.fill(0, 0, 1 << bits);
  for (let i = 0; i < m; i++) sizes[groupOf(i)]++;
  const starts = new Uint32Array(1 << bits);
  for (let d = 1; d < 1 << bits; d++) starts[d] = starts[d - 1] + sizes[d - 1];
  for (let i = 0; i < m; i++) out.set(records.subarray(4 * i, 4 * i + 4), 4 * starts[groupOf(i)]++);
  result[4] = bits;
}

/**
 * The same as the addon's sortBucket: records from..from+count sorted by hash, stably, each hash
 * once with its last record, moved down to from..from+kept; returns kept.
 */
export function sortBucketJs(records: Uint32Array, from: number, count: number, keyBits: number, _bucketBits: number, _scratch: Uint32Array): number {
  const bucket = records.subarray(4 * from, 4 * (from + count));
  sortRecordsJs(bucket, count, keyBits === 64 ? 1 : 0, null);
  return keepLastOfEqualRecords(bucket, count);
}

/**
 * The same as the addon's hashRecords: pairs from..from+n of the columns as records in `out`,
 * hashed at `keyBits`, the escaped key's pairs left out; result = [records written, 1 when the
 * escaped key was seen, its last value's low word, its high word].
 */
export function hashRecordsJs(
  keys: Uint32Array, keysHigh: Uint32Array | null, values: Uint32Array, valuesHigh: Uint32Array | null, from: number, n: number,
  keyBits: number, out: Uint32Array, result: Float64Array,
): void {
  const halves = new Uint32Array(2);
  const emptyHigh = keyBits === 64 ? EMPTY_HASH : 0;
  let m = 0;
  result[1] = 0;
  for (let i = from; i < from + n; i++) {
    const kh = keysHigh === null ? 0 : keysHigh[i];
    if (keyBits === 32) {
      if (kh !== 0) throw new RangeError(`hashRecords: key ${i} is wider than 32 bits`);
      halves[0] = hash32(keys[i]);
      halves[1] = 0;
    } else {
      hash64Into(kh, keys[i], halves);
    }
    const vh = valuesHigh === null ? 0 : valuesHigh[i];
    if (halves[0] === EMPTY_HASH && halves[1] === emptyHigh) {
      result[1] = 1;
      result[2] = values[i];
      result[3] = vh;
      continue;
    }
    out[4 * m] = halves[0];
    out[4 * m + 1] = halves[1];
    out[4 * m + 2] = values[i];
    out[4 * m + 3] = vh;
    m++;
  }
  result[0] = m;
}

/**
 * Bits `bitsDone`..`bitsDone + 7` from the top of record i's hash, of `hashBits` bits (§16.3:
 * a 64-bit hash's high word holds its top bits; a 32-bit hash is the low word): the group a
 * spilled record goes to, in hash order.
 */
function digitOf(records: Uint32Array, i: number, hashBits: number, bitsDone: number): number {
  const p = hashBits - bitsDone - 8;
  return p >= 32 ? (records[4 * i + 1] >>> (p - 32)) & 0xff : (records[4 * i] >>> p) & 0xff;
}

/**
 * A spilled build's step for version 3 files, as scatterPairsJs is version 2's: pairs
 * from..from+n of `pairs` become slot records (§16.1, hashed at `keyBits`), grouped by their
 * hash's top byte into `out` (input order kept within a group: the last value still wins), the
 * group sizes into `counts`. The escaped key's pairs are left out: returns its last value, or
 * undefined.
 */
export function scatterRecords(
  pairs: PairBuffer, from: number, n: number, keyBits: Width, out: Uint32Array, counts: Uint32Array, accel: Accelerator = JS_ACCELERATOR,
): Word | undefined {
  const records = scatterScratch(n);
  const r = scatterResult;
  accel.hashRecords(pairs.keys, pairs.keysHigh, pairs.values, pairs.valuesHigh, from, n, keyBits, records, r);
  scatterRecordsBy(records, r[0], keyBits, 0, out, counts);
  return escapedOf(r);
}

/** The escaped key's value from a record loop's result ([.., 1 when seen, its low word, its high word]), if it was seen. */
function escapedOf(r: Float64Array): Word | undefined {
  if (r[1] !== 1) return undefined;
  return r[3] === 0 ? r[2] : (BigInt(r[3]) << 32n) | BigInt(r[2]);
}

const scatterResult = new Float64Array(4);

let scatterBuffer = new Uint32Array(0);

/** Scratch for scatterRecords, kept between calls (a spill's pieces are all one size). */
function scatterScratch(n: number): Uint32Array {
  if (scatterBuffer.length < n * 4) scatterBuffer = new Uint32Array(n * 4);
  return scatterBuffer;
}

/**
 * Records (four words each) grouped into `out` by bits bitsDone..bitsDone+7 from the top of
 * their `hashBits`-bit hash, stably; the group sizes into `counts`.
 */
export function scatterRecordsBy(records: Uint32Array, n: number, hashBits: number, bitsDone: number, out: Uint32Array, counts: Uint32Array): void {
  counts.fill(0, 0, GROUPS);
  for (let i = 0; i < n; i++) counts[digitOf(records, i, hashBits, bitsDone)]++;
  const starts = new Uint32Array(GROUPS);
  for (let g = 1; g < GROUPS; g++) starts[g] = starts[g - 1] + counts[g - 1];
  for (let i = 0; i < n; i++) {
    const at = 4 * starts[digitOf(records, i, hashBits, bitsDone)]++;
    out[at] = records[4 * i];
    out[at + 1] = records[4 * i + 1];
    out[at + 2] = records[4 * i + 2];
    out[at + 3] = records[4 * i + 3];
  }
}

/**
 * `n` spilled records of `words` words (2: version 2's (hash, value); 4: version 3's) as
 * four-word records into `out`, for a build that widens part way (build/spill.ts): the same
 * hash, or, when `rekey` (32-bit keys become 64-bit), the key's hash64 (§16.3).
 */
export function recordsOfSpilled(input: Uint32Array, n: number, words: 2 | 4, rekey: boolean, out: Uint32Array): void {
  const halves = new Uint32Array(2);
  for (let i = 0; i < n; i++) {
    const o = i * words;
    if (rekey) {
      hash64Into(0, unhash32(input[o]), halves);
      out[4 * i] = halves[0];
      out[4 * i + 1] = halves[1];
    } else {
      out[4 * i] = input[o];
      out[4 * i + 1] = words === 4 ? input[o + 1] : 0;
    }
    out[4 * i + 2] = input[o + words / 2];
    out[4 * i + 3] = words === 4 ? input[o + 3] : 0;
  }
}
