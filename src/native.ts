/**
 * idx's own addon (native/idx_native.c), built by `npm install` with node-gyp: the file mapping,
 * flock(2) for the writer lock, and the loops JS cannot make fast (batch lookup with software
 * prefetch; the builder's parse, sort and placement). Loaded on first use.
 */
import * as nodePath from "node:path";
import { IdxError } from "./errors";

export interface NativeAddon {
  /** Returns 0, or the errno (EWOULDBLOCK when another process holds the lock). */
  flock(fd: number, operation: 0 | 1 | 2, wait: boolean): number;
  /** See getMany in native/idx_native.c. */
  getMany(
    header: Uint32Array, slots: Uint32Array, capacity: number, keys: Uint32Array,
    values: Uint32Array, found: Uint8Array | null, missing: number, from: number, to: number,
    result: Float64Array,
  ): void;
  /** hashSortJs of src/encode.ts: result = [distinct hashes, escaped key present, its value]. */
  hashSort(keys: Uint32Array, values: Uint32Array, n: number, result: Float64Array): void;
  /** placedEnd (write false, slots null) or placeSorted (write true) of src/table.ts; returns the end. */
  placeSorted(slots: Uint32Array | null, hashes: Uint32Array, values: Uint32Array, n: number, capacity: number, write: boolean): number;
  /** mmap(2) of a whole file, shared; see map in native/idx_native.c. */
  map(fd: number, length: number, writable: boolean, sequential: boolean): ArrayBuffer;
  /** msync(MS_SYNC) of a whole mapping. */
  sync(mapping: ArrayBufferLike): void;
  /** True when map() makes ArrayBuffers V8 does not count as memory (native/unaccounted.cc). */
  readonly mappingsUncounted: boolean;
  /** napi_adjust_external_memory: bytes held outside V8's heap, more or (negative) fewer. */
  adjustExternalMemory(bytes: number): void;
  /** The grammar of src/parse.ts over whole lines; see parseLines in native/idx_native.c. */
  parseLines(buf: Uint8Array, start: number, end: number, keys: Uint32Array, values: Uint32Array, count: number, result: Float64Array): void;
}

const FILE = nodePath.join(__dirname, "..", "build", "Release", "idx_native.node");
let addon: NativeAddon | null | undefined;
let loadError: unknown;

/**
 * The addon for the fast paths (batch lookups, sorting, placement), or null if it was not built
 * or IDX_NO_NATIVE is set (to test the JS paths that compute the same answers).
 */
export function nativeAddon(): NativeAddon | null {
  return process.env.IDX_NO_NATIVE ? null : loadAddon();
}

function loadAddon(): NativeAddon | null {
  if (addon === undefined) {
    try {
      addon = require(FILE) as NativeAddon;
    } catch (e) {
      addon = null;
      loadError = e;
    }
  }
  return addon;
}

/** The addon, for what cannot be done without it (the writer lock). */
export function requireNativeAddon(): NativeAddon {
  const a = loadAddon();
  if (a === null) {
    throw new IdxError("ERR_IDX_IO", `idx's native addon is missing (${FILE})`, {
      cause: loadError, hint: "Run `npm install` (or `npx node-gyp rebuild`) in the idx package to build it.",
    });
  }
  return a;
}
