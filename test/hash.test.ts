import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hash32, homeSlot, unhash32 } from "../src/core/hash";
import { EMPTY_HASH, ESCAPED_KEY, LAYOUT_V2, SLOT_WORDS, buildCapacity } from "../src/core/format";
import { encodeIndex } from "../src/core/encode";
import { SPEC_ESCAPED_KEY } from "./helpers/keys";

/** The test-vector table of spec/FORMAT.md §4, read from the spec itself. */
function specVectors(): { key: number; hash: number; homes: [number, number][] }[] {
  const spec = readFileSync(join(__dirname, "..", "spec", "FORMAT.md"), "utf8");
  const section = spec.slice(spec.indexOf("Test vectors"), spec.indexOf("## 5."));
  const header = section.split("\n").find((l) => l.startsWith("| key |"))!;
  const capacities = [...header.matchAll(/capacity (\d+)/g)].map((m) => Number(m[1]));
  return section
    .split("\n")
    .filter((l) => /^\| \d+ \| 0x/.test(l))
    .map((l) => {
      const cells = l.split("|").slice(1, -1).map((c) => c.trim());
      return {
        key: Number(cells[0]),
        hash: Number(cells[1]),
        homes: capacities.map((cap, i) => [cap, Number(cells[2 + i])] as [number, number]),
      };
    });
}

describe("§1 CRC-32 is zlib's", () => {
  it("for every length from 0 to 600 bytes (the JS loop below 512, zlib above) and the check value", async () => {
    const { crc32 } = await import("../src/core/crc32");
    const zlib = await import("node:zlib");
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    const data = new Uint8Array(600);
    let x = 12345;
    for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    for (let n = 0; n <= data.length; n++) {
      const part = data.subarray(0, n);
      if (crc32(part) !== zlib.crc32(part)) expect.fail(`length ${n}: ${crc32(part)} != ${zlib.crc32(part)}`);
    }
  });

  it.runIf(!process.env.IDX_NO_NATIVE)("the addon's blockChecksums (CPU instructions and tables) and its JS twin, at every length and offset", async () => {
    const { requireNativeAddon } = await import("../src/os/native");
    const { blockChecksumsJs } = await import("../src/core/encode");
    const zlib = await import("node:zlib");
    const native = requireNativeAddon("this test");
    const data = new Uint8Array(9000);
    let x = 777;
    for (let i = 0; i < data.length; i++) data[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    const expected = (part: Uint8Array, blockBytes: number): number[] => {
      const sums: number[] = [];
      for (let at = 0; at < part.length; at += blockBytes) sums.push(zlib.crc32(part.subarray(at, at + blockBytes)));
      return sums;
    };
    const words = (out: Uint8Array): number[] => Array.from({ length: out.length / 4 }, (_, b) => new DataView(out.buffer, out.byteOffset).getUint32(4 * b, true));
    // Lengths around the CLMUL path's edges (64 bytes, whole 16-byte steps, the tail), at
    // offsets 0 to 15 (its loads are unaligned), in one block and in several.
    for (const blockBytes of [4096, 100, 64, 1]) {
      for (let offset = 0; offset < 16; offset++) {
        for (const n of [0, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 200, 4095, 4096, 4097, 8999 - offset]) {
          if (blockBytes === 1 && n > 200) continue;
          const part = data.subarray(offset, offset + n);
          const want = expected(part, blockBytes);
          for (const [how, run] of [
            ["native", (out: Uint8Array) => native.blockChecksums(part, blockBytes, out)],
            ["tables", (out: Uint8Array) => (native.blockChecksums as (...a: unknown[]) => void)(part, blockBytes, out, true)],
            ["js", (out: Uint8Array) => blockChecksumsJs(part, blockBytes, out)],
          ] as const) {
            const out = new Uint8Array(4 * want.length);
            run(out);
            if (JSON.stringify(words(out)) !== JSON.stringify(want)) expect.fail(`${how}: ${n} bytes at ${offset}, blocks of ${blockBytes}`);
          }
        }
      }
    }
    expect(() => native.blockChecksums(data, 4096, new Uint8Array(4))).toThrow(/out holds 1 checksums, not the 3 blocks/);
    expect(() => native.blockChecksums(data, 0, new Uint8Array(4))).toThrow(/blockBytes must be at least 1/);
    expect(() => native.blockChecksums(new Uint32Array(4) as unknown as Uint8Array, 4096, new Uint8Array(4))).toThrow(/data/);
  });
});

describe("§4 the hash is fmix32, with the spec's test vectors", () => {
  const vectors = specVectors();
  it("the spec lists vectors for the edge keys", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
    expect(vectors.map((v) => v.key)).toEqual(expect.arrayContaining([0, 4294967295, ESCAPED_KEY]));
  });
  for (const v of vectors) {
    it(`key ${v.key} -> hash 0x${v.hash.toString(16)} -> homes ${v.homes.map((h) => h[1]).join(", ")}`, () => {
      expect(hash32(v.key)).toBe(v.hash);
      for (const [capacity, home] of v.homes) expect(homeSlot(v.hash, capacity)).toBe(home);
    });
  }
});

describe("§4 the hash is a bijection and unhash is its inverse", () => {
  it("round-trips edge keys and a sample across the domain", () => {
    const keys = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, ESCAPED_KEY];
    for (let i = 0; i < 100_000; i++) keys.push((Math.imul(i, 0x9e3779b1) >>> 0));
    for (const k of keys) {
      expect(unhash32(hash32(k))).toBe(k);
      expect(hash32(unhash32(k))).toBe(k);
    }
  });
  it("is never the identity", () => {
    let fixed = 0;
    for (let k = 1; k < 1 << 16; k++) if (hash32(k) === k) fixed++;
    expect(fixed).toBe(0);
  });
  it("gives EMPTY_HASH to exactly the escaped key 857579651", () => {
    expect(ESCAPED_KEY).toBe(857579651);
    expect(hash32(ESCAPED_KEY)).toBe(EMPTY_HASH);
  });
});

describe("§4 home(h) = (h * capacity) >> 32 exactly, and is monotone", () => {
  it("matches exact 65-bit arithmetic for capacities up to the version 2 limit (2^33)", () => {
    const caps = [1, 2, 3, 7, 14, 1000, 65535, 65536, 65537, 1 << 24, 268173559, 268435455, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 4908534053, 5726623062, 2 ** 33 - 1, 2 ** 33];
    const hashes = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    for (let i = 0; i < 2000; i++) hashes.push(hash32(i));
    for (const c of caps) {
      for (const h of hashes) {
        expect(homeSlot(h, c)).toBe(Number((BigInt(h) * BigInt(c)) >> 32n));
      }
    }
  });
  it("never decreases as the hash grows", () => {
    for (const c of [5, 1000, 123457]) {
      let previous = 0;
      for (let h = 0; h <= 0xffffffff; h += 65521) {
        const home = homeSlot(h, c);
        expect(home).toBeGreaterThanOrEqual(previous);
        expect(home).toBeLessThan(c);
        previous = home;
      }
    }
  });
});

/** Mean distance from home over the entries of a built table. */
function meanDisplacement(keys: Uint32Array): number {
  const n = keys.length;
  const file = encodeIndex(keys.slice(), new Uint32Array(n), n);
  const capacity = file.readUInt32LE(16);
  const slotCount = file.readUInt32LE(24);
  const slots = new Uint32Array(file.buffer, file.byteOffset + LAYOUT_V2.headerBytes, slotCount * SLOT_WORDS);
  let total = 0;
  let entries = 0;
  for (let s = 0; s < slotCount; s++) {
    const h = slots[s * SLOT_WORDS];
    if (h === EMPTY_HASH) continue;
    total += s - homeSlot(h, capacity);
    entries++;
  }
  expect(entries).toBe(n - (keys.includes(ESCAPED_KEY) ? 1 : 0));
  return total / entries;
}

describe("§4 structured key sets spread like random ones", () => {
  const n = 50_000;
  const random = new Uint32Array(n);
  let x = 12345;
  const seen = new Set<number>();
  for (let i = 0; i < n; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = (x ^ (x >>> 13) ^ Math.imul(i, 0x9e3779b1)) >>> 0;
    if (!seen.has(k)) { seen.add(k); random[i++] = k; }
  }
  const baseline = meanDisplacement(random);
  const sets: Record<string, (i: number) => number> = {
    sequential: (i) => i,
    "sequential from 2^31": (i) => 0x80000000 + i,
    "stride 2^8": (i) => (i << 8) >>> 0,
    "stride 2^12": (i) => (i << 12) >>> 0,
    "stride 2^16": (i) => (i << 16) >>> 0,
    "high bits only": (i) => Math.imul(i, 0x10000) >>> 0 | (i >>> 16),
    "multiples of 1000": (i) => i * 1000,
  };
  it("random keys have a small mean displacement at load 7/8", () => {
    expect(buildCapacity(n)).toBe(Math.ceil((n * 8) / 7));
    expect(baseline).toBeLessThan(4);
  });
  for (const [name, f] of Object.entries(sets)) {
    it(`${name}: mean displacement within 1.25x of random keys`, () => {
      const keys = new Uint32Array(n);
      for (let i = 0; i < n; i++) keys[i] = f(i);
      expect(new Set(keys).size).toBe(n);
      expect(meanDisplacement(keys)).toBeLessThan(baseline * 1.25 + 0.1);
    });
  }
});

describe.runIf(!process.env.IDX_NO_NATIVE)("§7 the addon's hashing, sort and placement give the bytes the JS builder gives", () => {
  it("for random, sequential, strided and duplicate-heavy key sets, with and without the escaped key", async () => {
    const { requireNativeAddon } = await import("../src/os/native");
    const { hashSortJs, placeSortedJs } = await import("../src/core/encode");
    const native = requireNativeAddon("this test"); // built by npm install

    const sets: Record<string, (i: number) => number> = {
      random: (i) => hash32(i * 7 + 1),
      sequential: (i) => i,
      strided: (i) => (i << 12) >>> 0,
      duplicates: (i) => i % 997,
      "duplicates and the escaped key, twice": (i) => (i % 5000 === 7 ? SPEC_ESCAPED_KEY : i % 1999),
    };
    for (const [name, f] of Object.entries(sets)) {
      const n = 30_000;
      const k = new Uint32Array(n);
      const v = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        k[i] = f(i);
        v[i] = i;
      }
      const jk = k.slice();
      const jv = v.slice();
      const jr = new Float64Array(3);
      hashSortJs(jk, jv, n, jr);
      const nk = k.slice();
      const nv = v.slice();
      const nr = new Float64Array(3);
      native.hashSort(nk, nv, n, nr);
      expect([...nr], `${name}: count, escaped key`).toEqual([...jr]);
      const unique = jr[0];
      // Against a Map of the same pairs: one hash per key, the last value wins.
      const model = new Map<number, number>();
      for (let i = 0; i < n; i++) model.set(k[i], v[i]);
      expect(unique + jr[1], name).toBe(model.size);
      expect(jr[1] === 1 ? jr[2] : undefined, name).toBe(model.get(SPEC_ESCAPED_KEY));
      const uh = nk.slice(0, unique);
      const uv = nv.slice(0, unique);
      expect(uh, name).toEqual(jk.slice(0, unique));
      expect(uv, `${name}: last value wins`).toEqual(jv.slice(0, unique));
      for (let i = 1; i < unique; i++) if (uh[i - 1] >= uh[i]) throw new Error(`${name}: not strictly increasing at ${i}`);
      for (let i = 0; i < unique; i++) {
        if (model.get(unhash32(uh[i])) !== uv[i]) throw new Error(`${name}: hash ${uh[i]} holds ${uv[i]}, not the key's last value`);
      }
      // Placement of the unique, sorted hashes, at the builder's capacity and at ones past 2^32.
      for (const capacity of [buildCapacity(unique), 2 ** 32 + 5, 4908534053]) {
        const js = new Float64Array(2);
        const c = new Float64Array(2);
        placeSortedJs(null, uh, uv, unique, capacity, js);
        native.placeSorted(null, uh, uv, unique, capacity, c);
        expect([...c], `${name} at ${capacity}: end and reach`).toEqual([...js]);
        if (capacity > 1e6) continue;
        const slotCount = Math.max(capacity, js[0]) + 8;
        const jsSlots = new Uint32Array(slotCount * 2);
        const cSlots = new Uint32Array(slotCount * 2);
        placeSortedJs(jsSlots, uh, uv, unique, capacity, js);
        native.placeSorted(cSlots, uh, uv, unique, capacity, c);
        expect(cSlots, `${name}: placement`).toEqual(jsSlots);
      }
    }
  });
});
