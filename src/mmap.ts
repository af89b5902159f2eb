/**
 * The only module that maps files, through idx's own addon (native/idx_native.c). It replaced
 * the mmap-io binding, which read sizes as signed 32-bit ints (wrapping larger ones silently)
 * and was found through node-pre-gyp at a cost of 30 ms of startup.
 */
import * as fs from "node:fs";
import { IdxError, ioError } from "./errors";
import { MAX_FILE_BYTES } from "./format";
import { openIndexFile } from "./index-file";
import { requireNativeAddon } from "./native";

/**
 * Files at most this large are mapped: a version 1 index is never larger (spec §8), so anything
 * larger is refused before it is mapped, with the reason.
 */
export const MAX_MAP_BYTES = MAX_FILE_BYTES;

export interface MappedFile {
  /** The mapping. Released only when garbage-collected; drop every reference to unmap. */
  buffer: Buffer;
  /** The file's size when it was mapped. */
  size: number;
  /** The file's inode: a reader compares it with the path's to notice a replaced file. */
  inode: number;
}

/**
 * Maps the whole of `path` (shared, read-only or read-write). An empty file maps to an empty
 * Buffer, since mmap refuses length 0. `access` sets the kernel's read-ahead: none for lookups,
 * which touch one page each, and ahead for scans. `whileOpen` runs with the mapping and the
 * still-open descriptor, for reads that should not fault pages into the mapping.
 */
export function mapFile(
  path: string,
  writable = false,
  access: "random" | "sequential" = "random",
  whileOpen?: (mapped: MappedFile, fd: number) => void,
): MappedFile {
  const { fd, stat } = openIndexFile(path, writable);
  try {
    const size = stat.size;
    const inode = stat.ino;
    if (size === 0) {
      const empty = { buffer: Buffer.alloc(0), size, inode };
      whileOpen?.(empty, fd);
      return empty;
    }
    if (size > MAX_MAP_BYTES) {
      throw new IdxError("ERR_IDX_TOO_LARGE", `is ${size} bytes; an idx version 1 index is at most ${MAX_MAP_BYTES} bytes (2 GiB - 1)`, {
        path,
        hint: "No idx version 1 index is that large: this is not an idx file, or it was damaged.",
      });
    }
    let buffer: Buffer;
    try {
      const mapping = requireNativeAddon().map(fd, size, writable, access === "sequential");
      buffer = Buffer.from(mapping);
    } catch (e) {
      if (e instanceof IdxError) throw e;
      throw ioError("map the index into memory", path, e);
    }
    if (buffer.length !== size) {
      throw new IdxError("ERR_IDX_IO", `mapping returned ${buffer.length} bytes for a ${size}-byte file`, { path });
    }
    const mapped = { buffer, size, inode };
    try {
      whileOpen?.(mapped, fd);
    } catch (e) {
      releaseMapping(buffer); // a file refused at open: nobody will use this mapping
      throw e;
    }
    return mapped;
  } finally {
    fs.closeSync(fd);
  }
}

const released = new WeakSet<ArrayBuffer>();
let uncount: FinalizationRegistry<number> | undefined;

/**
 * Says the caller no longer uses `buffer`'s mapping (it closed, or moved to a newer file).
 * V8 does not count a mapping as memory (native/unaccounted.cc: so that opening a large index
 * sets off no garbage collection), so nothing would make it collect a mapping that a
 * long-lived reader dropped, and the file, perhaps replaced and unlinked, would stay mapped and
 * hold its disk space until the process happened to collect. So once the caller has dropped
 * it, V8 counts it, as it counts other memory a program lets go of, until it is collected.
 */
export function releaseMapping(buffer: Buffer | null): void {
  if (buffer === null || buffer.length === 0) return;
  const addon = requireNativeAddon(); // it made the mapping
  const mapping = buffer.buffer as ArrayBuffer;
  if (!addon.mappingsUncounted || released.has(mapping)) return;
  released.add(mapping);
  const bytes = mapping.byteLength;
  uncount ??= new FinalizationRegistry((held) => addon.adjustExternalMemory(-held));
  uncount.register(mapping, bytes);
  // Counted now, the collection it may start would find the mapping still referenced by the
  // caller's stack and keep it; counted on the next turn of the event loop, it is not.
  setImmediate(() => addon.adjustExternalMemory(bytes)).unref();
}

/**
 * Writes a mapping's dirty pages to the file and waits (msync MS_SYNC): durable on return.
 */
export function syncMapping(buffer: Buffer, path: string): void {
  if (buffer.length === 0) return;
  try {
    requireNativeAddon().sync(buffer.buffer);
  } catch (e) {
    throw ioError("sync the index to disk", path, e);
  }
}
