import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IdIndex, build, buildFromText, verify } from "../src/index";

const dir = join(__dirname, "..", "fixtures");
const work = mkdtempSync(join(tmpdir(), "idx-fixtures-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The map a pairs file means, computed independently of the parser under test. */
function expectedMap(tsv: string): Map<number, number> {
  const map = new Map<number, number>();
  for (const raw of readFileSync(join(dir, tsv), "utf8").split("\n")) {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const [k, v] = line.split(/\s*,\s*|\s+/).map(Number);
    map.set(k, v);
  }
  return map;
}

const names = readdirSync(dir).filter((f) => f.endsWith(".tsv")).map((f) => f.slice(0, -4)).sort();

describe("§13 fixtures: the builder writes exactly the golden bytes", () => {
  it("has exactly the fixtures the spec lists in §13, and the spec lists every one", () => {
    const spec = readFileSync(join(__dirname, "..", "spec", "FORMAT.md"), "utf8");
    const table = spec.slice(spec.indexOf("## 13."), spec.indexOf("## 14."));
    const listed = [...table.matchAll(/^\| `([a-z0-9/*.]+)` \|/gm)].map((m) => m[1]);
    const onDisk = readdirSync(dir).filter((f) => f.endsWith(".idx")).map((f) => f.replace(/\.idx$/, ""));
    const expectedNames = listed.filter((n) => !n.includes("/")).map((n) => n.replace(/\.idx$/, ""));
    expect(new Set(expectedNames)).toEqual(new Set(onDisk));
    expect(names).toEqual(expect.arrayContaining(["blocks", "cluster", "edges", "empty", "one", "syntax"]));
    const v1 = readdirSync(join(dir, "v1")).filter((f) => f.endsWith(".idx")).sort();
    expect(v1).toEqual(["cluster.idx", "edges.idx", "edited.idx", "empty.idx", "interrupted.idx", "one.idx", "syntax.idx"]);
  });
  for (const name of names) {
    it(`${name}.tsv builds to ${name}.idx byte for byte`, async () => {
      const out = join(work, `${name}.idx`);
      await buildFromText(join(dir, `${name}.tsv`), out, { sync: false });
      expect(readFileSync(out).equals(readFileSync(join(dir, `${name}.idx`)))).toBe(true);
    });
    it(`${name}: the same map in another order, with duplicates, gives the same bytes`, async () => {
      const pairs = [...expectedMap(`${name}.tsv`)].reverse();
      const noisy: [number, number][] = [...pairs.map(([k]) => [k, 12345] as [number, number]), ...pairs];
      const out = join(work, `${name}.shuffled.idx`);
      await build(noisy, out, { sync: false });
      expect(readFileSync(out).equals(readFileSync(join(dir, `${name}.idx`)))).toBe(true);
    });
  }
});

describe("§13 fixtures: the reader answers from the golden files", () => {
  for (const name of names) {
    it(`${name}.idx holds exactly the pairs of ${name}.tsv`, () => {
      const expected = expectedMap(`${name}.tsv`);
      const ix = IdIndex.open(join(dir, `${name}.idx`));
      try {
        expect(ix.size).toBe(expected.size);
        for (const [k, v] of expected) {
          expect(ix.get(k)).toBe(v);
          expect(ix.has(k)).toBe(true);
        }
        expect(new Map(ix)).toEqual(expected);
        for (const absent of [3, 7, 99, 857579650, 4294967294]) {
          if (!expected.has(absent)) expect(ix.get(absent)).toBeUndefined();
        }
      } finally {
        ix.close();
      }
      expect(verify(join(dir, `${name}.idx`)).ok).toBe(true);
    });
  }
});

describe("§12 the worked example is fixtures/one.idx", () => {
  it("matches the hex dump in the spec, line for line", () => {
    const spec = readFileSync(join(__dirname, "..", "spec", "FORMAT.md"), "utf8");
    const example = spec.slice(spec.indexOf("## 12."), spec.indexOf("## 13."));
    const bytes = readFileSync(join(dir, "one.idx"));
    const lines = [...example.matchAll(/^ {4}([0-9a-f]{8}): ((?:[0-9a-f]{4} ?){1,8})/gm)];
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const [, offset, hex] of lines) {
      const expected = Buffer.from(hex.replace(/ /g, ""), "hex");
      const start = parseInt(offset, 16);
      expect(bytes.subarray(start, start + expected.length).equals(expected)).toBe(true);
    }
    expect(bytes.length).toBe(212);
  });
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
const surgery = require("../fixtures/edits.js") as {
  interruptInsert(b: Buffer): Buffer; retire(b: Buffer): Buffer; minorSeven(b: Buffer): Buffer;
};

describe("§13 fixtures made by byte surgery from the spec are the files on disk", () => {
  const file = (name: string) => readFileSync(join(dir, name));
  it("interrupted.idx is edited.idx with an insert cut short (§11.2)", () => {
    expect(surgery.interruptInsert(file("edited.idx")).equals(file("interrupted.idx"))).toBe(true);
  });
  it("retired.idx is cluster.idx retired (§11.4)", () => {
    expect(surgery.retire(file("cluster.idx")).equals(file("retired.idx"))).toBe(true);
  });
  it("minor.idx is one.idx as a 2.7 file (§10)", () => {
    expect(surgery.minorSeven(file("one.idx")).equals(file("minor.idx"))).toBe(true);
  });
});

describe("§13 the state fixtures read as the spec says", () => {
  it("retired.idx: answers the cluster map, verifies (every check: §9.2), and says it is retired", () => {
    const ix = IdIndex.open(join(dir, "retired.idx"));
    expect(new Map(ix)).toEqual(expectedMap("cluster.tsv"));
    for (const [k, v] of expectedMap("cluster.tsv")) expect(ix.get(k)).toBe(v);
    ix.close();
    const report = verify(join(dir, "retired.idx"));
    expect(report.ok).toBe(true);
    expect(report.retired).toBe(true);
    expect(report.interrupted).toBe(false);
  });
  it("minor.idx: a 2.0 reader reads a 2.7 file (its reserved bytes and cell are not its business)", () => {
    const ix = IdIndex.open(join(dir, "minor.idx"));
    expect(ix.get(42)).toBe(7);
    expect(ix.info().version).toBe("2.7");
    ix.close();
    expect(verify(join(dir, "minor.idx")).ok).toBe(true);
  });
  it("interrupted.idx: verifies as interrupted, with its one tombstone inside the dirty block", () => {
    const report = verify(join(dir, "interrupted.idx"));
    expect(report.ok).toBe(true);
    expect(report.interrupted).toBe(true);
    expect(report.tombstones).toBe(1);
    expect(report.dirtyBlocks).toBe(1);
  });
});

describe("§14 version 1 files (fixtures/v1) are read and verified", () => {
  const v1Maps: Record<string, string> = {
    empty: "empty.tsv", one: "one.tsv", edges: "edges.tsv", cluster: "cluster.tsv", syntax: "syntax.tsv",
  };
  for (const [name, tsv] of Object.entries(v1Maps)) {
    it(`v1/${name}.idx holds the pairs of ${tsv}, verifies, and says version 1.0`, () => {
      const path = join(dir, "v1", `${name}.idx`);
      const ix = IdIndex.open(path);
      const expected = expectedMap(tsv);
      expect(new Map(ix)).toEqual(expected);
      for (const [k, v] of expected) expect(ix.get(k)).toBe(v);
      expect(ix.size).toBe(expected.size);
      expect(ix.info().version).toBe("1.0");
      expect(ix.info().reach).toBeNull();
      ix.close();
      const report = verify(path);
      expect(report.ok).toBe(true);
      expect(report.version).toBe("1.0");
    });
  }
  it("v1/edited.idx and v1/interrupted.idx hold the same map as the version 2 edited.idx", () => {
    const edited = (p: string) => {
      const ix = IdIndex.open(join(dir, p));
      try {
        return new Map(ix);
      } finally {
        ix.close();
      }
    };
    expect(edited("v1/edited.idx")).toEqual(edited("edited.idx"));
    expect(edited("v1/interrupted.idx")).toEqual(edited("edited.idx"));
    expect(verify(join(dir, "v1/interrupted.idx")).interrupted).toBe(true);
  });
});

describe("§13, §16 version 3 fixtures: the builder writes exactly the golden bytes, and Python's copies are the same files", () => {
  const v3 = join(dir, "v3");
  const v3names = readdirSync(v3).filter((f) => f.endsWith(".tsv")).map((f) => f.slice(0, -4)).sort();
  it("are k32v64, k64v32 and k64v64, each an input and its file", () => {
    expect(v3names).toEqual(["k32v64", "k64v32", "k64v64"]);
  });
  for (const name of v3names) {
    it(`v3/${name}.tsv builds to v3/${name}.idx byte for byte, which reads back the input's map and verifies`, async () => {
      const out = join(work, `v3-${name}.idx`);
      await buildFromText(join(v3, `${name}.tsv`), out, { sync: false });
      const golden = readFileSync(join(v3, `${name}.idx`));
      expect(readFileSync(out).equals(golden)).toBe(true);
      expect(golden.readUInt16LE(8)).toBe(3);
      const expected = new Map<number | bigint, number | bigint>();
      const id = (text: string) => (BigInt(text) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(text) : BigInt(text));
      for (const line of readFileSync(join(v3, `${name}.tsv`), "utf8").split("\n")) {
        const [k, v] = line.trim().split(/\s+/);
        if (k && !k.startsWith("#")) expected.set(id(k), id(v));
      }
      const ix = IdIndex.open<number | bigint, number | bigint>(join(v3, `${name}.idx`));
      expect(new Map(ix)).toEqual(expected);
      ix.close();
      expect(verify(join(v3, `${name}.idx`)).ok).toBe(true);
      // The Python package's tests read their own copy: it must be this file.
      expect(readFileSync(join(__dirname, "..", "python", "tests", "data", "v3", `${name}.idx`)).equals(golden)).toBe(true);
    });
  }
});
