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
  it("has the fixtures the spec lists", () => {
    expect(names).toEqual(expect.arrayContaining(["cluster", "edges", "empty", "one", "syntax"]));
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
    expect(bytes.length).toBe(148);
  });
});
