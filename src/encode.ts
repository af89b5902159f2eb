/**
 * Pairs in memory -> the complete bytes of an index file, in the canonical layout of
 * spec/FORMAT.md §7: entries sorted by hash and placed in order, so the same map always gives
 * the same bytes, whatever order or duplicates the input had. Pure: no files.
 */
import { crc32 } from "./crc32";
import { IdxError } from "./errors";
import {
  BLOCK_BYTES, BUILD_LOAD_DEN, BUILD_LOAD_NUM, CHECKSUM_BYTES, EMPTY_HASH, HEADER_BYTES,
  MAX_FILE_BYTES, MAX_SLOT_COUNT, SLOT_WORDS, SPILL_SLOTS, VERSION_MAJOR, VERSION_MINOR,
  blockCount, buildCapacity, checksumsOffset, fileBytes, writeHeader,
} from "./format";
import { hash32 } from "./hash";
import { placeSorted, placedEnd } from "./table";
import { nativeAddon } from "./native";

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
): Buffer {
  const native = nativeAddon();
  const sorted = new Float64Array(3);
  if (native !== null) native.hashSort(keys, values, n, sorted);
  else hashSortJs(keys, values, n, sorted);
  const [unique, escapedPresent, escapedValue] = sorted;
  const escaped = escapedPresent === 1 ? escapedValue : undefined;
  const hashes = keys;

  const capacity = capacityFor(unique);
  const end = native !== null
    ? native.placeSorted(null, hashes, values, unique, capacity, false)
    : placedEnd(hashes, unique, capacity);
  const slotCount = Math.max(capacity, end) + SPILL_SLOTS;
  if (slotCount > MAX_SLOT_COUNT) {
    throw new IdxError("ERR_IDX_TOO_LARGE",
      `${unique} entries need a ${fileBytes(slotCount)}-byte file; a version ${VERSION_MAJOR} index is at most ${MAX_FILE_BYTES} bytes (about ${Math.floor(((MAX_SLOT_COUNT - SPILL_SLOTS) * BUILD_LOAD_NUM) / BUILD_LOAD_DEN)} entries)`,
      { path, hint: "Split the keys across several indexes (by key range, for example)." });
  }
  // Not zeroed: the header, every slot and every checksum are written below.
  const file = Buffer.allocUnsafeSlow(fileBytes(slotCount));
  const slots = new Uint32Array(file.buffer, file.byteOffset + HEADER_BYTES, slotCount * SLOT_WORDS);
  if (native !== null) native.placeSorted(slots, hashes, values, unique, capacity, true);
  else placeSorted(slots, hashes, values, unique, capacity);
  writeChecksums(file, slotCount, 0, blockCount(slotCount));
  writeHeader(file, {
    major: VERSION_MAJOR,
    minor: VERSION_MINOR,
    capacity,
    slotCount,
    count: unique + (escaped === undefined ? 0 : 1),
    escapedPresent: escaped !== undefined,
    retired: false,
    escapedValue: escaped ?? 0,
    seq: 0,
    dirtyFirstBlock: 0,
    dirtyBlockCount: 0,
  });
  return file;
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

/** Recomputes the checksums of blocks [first, first + count) of the file image. */
export function writeChecksums(file: Uint8Array, slotCount: number, first: number, count: number): void {
  const slotsEnd = checksumsOffset(slotCount);
  const view = new DataView(file.buffer, file.byteOffset, file.length);
  for (let b = first; b < first + count; b++) {
    const start = HEADER_BYTES + b * BLOCK_BYTES;
    const end = Math.min(start + BLOCK_BYTES, slotsEnd);
    view.setUint32(slotsEnd + b * CHECKSUM_BYTES, crc32(file.subarray(start, end)), true);
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
function keepLastOfEqualRuns(hashes: Uint32Array, values: Uint32Array, n: number): number {
  let w = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && hashes[i + 1] === hashes[i]) continue;
    hashes[w] = hashes[i];
    values[w] = values[i];
    w++;
  }
  return w;
}
