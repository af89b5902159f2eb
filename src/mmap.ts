/**
 * The only module that maps files. The binding (@riaskov/mmap-io) reads sizes and offsets as
 * signed 32-bit ints and silently wraps larger ones, so every size is checked here before it
 * reaches the binding.
 */
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { IdxError, ioError } from "./errors";
import { openIndexFile } from "./index-file";

interface Binding {
  map(size: number, protection: number, flags: number, fd: number, offset: number, advise: number): Buffer;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_SHARED: number;
  MADV_RANDOM: number;
  MADV_SEQUENTIAL: number;
  /** msync(buffer + offset, length, blocking ? MS_SYNC : MS_ASYNC [| MS_INVALIDATE]). */
  sync_lib_private__(buffer: Buffer, offset: number, length: number, blocking: boolean, invalidate: boolean): void;
}

// The compiled addon is loaded directly: the package's own entry point goes through
// node-pre-gyp to find it, which costs ~30 ms of startup, six times a bare `node -e 0`. It is
// loaded with this module, so that the first open() costs what every open costs.
let binding: Binding | undefined;
function mmapBinding(): Binding {
  if (binding !== undefined) return binding;
  const dir = nodePath.dirname(require.resolve("@riaskov/mmap-io/package.json"));
  const abi = `node-v${process.versions.modules}-${process.platform}-${process.arch}`;
  for (const rel of [`build/binding/Release/${abi}/mmap_io.node`, "build/Release/mmap_io.node"]) {
    const file = nodePath.join(dir, rel);
    if (fs.existsSync(file)) return (binding = require(file) as Binding);
  }
  return (binding = require("@riaskov/mmap-io") as Binding);
}

mmapBinding();

/** The largest length (and offset) the binding maps without wrapping: INT32_MAX. */
export const MAX_MAP_BYTES = 2 ** 31 - 1;

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
      throw new IdxError("ERR_IDX_TOO_LARGE", `is ${size} bytes; idx maps files of at most ${MAX_MAP_BYTES} bytes (2 GiB - 1)`, {
        path,
        hint: "No idx version 1 index is that large: this is not an idx file, or it was damaged.",
      });
    }
    const mm = mmapBinding();
    const prot = writable ? mm.PROT_READ | mm.PROT_WRITE : mm.PROT_READ;
    let buffer: Buffer;
    try {
      buffer = mm.map(size, prot, mm.MAP_SHARED, fd, 0,
        access === "random" ? mm.MADV_RANDOM : mm.MADV_SEQUENTIAL);
    } catch (e) {
      throw ioError("map the index into memory", path, e);
    }
    if (buffer.length !== size) {
      // Never trust a mapping of the wrong length: the binding wraps sizes it cannot represent.
      throw new IdxError("ERR_IDX_IO", `mapping returned ${buffer.length} bytes for a ${size}-byte file`, { path });
    }
    const mapped = { buffer, size, inode };
    whileOpen?.(mapped, fd);
    return mapped;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a mapping's dirty pages to the file and waits (msync MS_SYNC): durable on return.
 */
export function syncMapping(buffer: Buffer, path: string): void {
  if (buffer.length === 0) return;
  try {
    mmapBinding().sync_lib_private__(buffer, 0, buffer.length, true, false);
  } catch (e) {
    throw ioError("sync the index to disk", path, e);
  }
}
