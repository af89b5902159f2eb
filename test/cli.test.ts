/**
 * The `idx` command as a user runs it: node bin/idx.js over the tsc build. Exit codes, what goes
 * to stdout and what to stderr, and errors as one or two plain lines, never a stack trace.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ESCAPED_KEY, IdIndex, VERSION_MAJOR, VERSION_MINOR, build } from "../src/index";
import { OFF, PNG_HEADER, slotCountOf, withBitFlipped } from "./helpers/bytes";
import { ROOT, expectPlainError, requireFreshBuild, runIdx } from "./helpers/cli";
import { MAX_U32, missesFor, specUnhash, withValues } from "./helpers/keys";
import { makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

let dir: string;
let seq = 0;
/** The map under test: edges, the escaped key, random keys, and a 150-key run at one home slot. */
let map: Map<number, number>;
let pairsFile: string;
let index: string;

const fresh = (name = "out") => join(dir, `${name}-${seq++}.idx`);

beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-cli-");
  const keys = [
    0, 1, MAX_U32, MAX_U32 - 1, ESCAPED_KEY,
    ...Array.from({ length: 200 }, (_, i) => (i * 2654435761 + 12345) >>> 0),
    // A run longer than any read-ahead window: 150 hashes sharing one home slot.
    ...Array.from({ length: 150 }, (_, i) => specUnhash(0x40000000 + i)),
  ];
  map = new Map(withValues(keys, 21));
  map.set(0, 0);
  map.set(MAX_U32, MAX_U32);
  pairsFile = join(dir, "pairs.txt");
  writeFileSync(pairsFile, "# key value\n" + [...map].map(([k, v]) => `${k}\t${v}`).join("\n") + "\n");
  index = join(dir, "main.idx");
  const r = runIdx(["build", pairsFile, "-o", index]);
  expect(r.stderr).not.toMatch(/^\s{4}at /m);
  expect(r.status).toBe(0);
});
afterAll(removeTempDirs);

function lines(stdout: string): string[] {
  expect(stdout.endsWith("\n") || stdout === "").toBe(true);
  return stdout === "" ? [] : stdout.slice(0, -1).split("\n");
}

describe("idx build", () => {
  it("builds IN -o OUT into an index of exactly the pairs, the same bytes the library writes", async () => {
    const ix = IdIndex.open(index);
    expect(new Map(ix)).toEqual(map);
    ix.close();
    const ref = fresh("ref");
    await build(map, ref, { sync: false });
    expect(readFileSync(index).equals(readFileSync(ref))).toBe(true);
  });

  it("builds from stdin with - and gives the same bytes", () => {
    const out = fresh("stdin");
    const r = runIdx(["build", "-", "-o", out], { input: readFileSync(pairsFile) });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out).equals(readFileSync(index))).toBe(true);
  });

  it("replaces an existing output", () => {
    const out = fresh("replace");
    expect(runIdx(["build", "-", "-o", out], { input: "1 1\n" }).status).toBe(0);
    expect(runIdx(["build", "-", "-o", out], { input: "2 2\n" }).status).toBe(0);
    expect(runIdx(["get", out, "2"]).stdout).toBe("2\n");
    expect(runIdx(["get", out, "1"]).status).toBe(1);
  });

  it("fails a bad line with exit 2, naming file:line, leaving the old output byte-identical and no temp file", () => {
    const sub = makeTempDir("idx-cli-bad-");
    const out = join(sub, "target.idx");
    expect(runIdx(["build", "-", "-o", out], { input: "1 1\n" }).status).toBe(0);
    const before = readFileSync(out);
    const input = join(sub, "bad.txt");
    writeFileSync(input, "1 1\n# ok\n2 two\n3 3\n");
    const r = runIdx(["build", input, "-o", out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${input}:3`);
    expectPlainError(r);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("fails a bad line on stdin with exit 2 and its line number", () => {
    const sub = makeTempDir("idx-cli-bad-stdin-");
    const out = join(sub, "target.idx");
    const r = runIdx(["build", "-", "-o", out], { input: "1 1\r\n2 2\r\n-3 3\r\n" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/:3\b/);
    expectPlainError(r);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("fails a missing input with exit 2 naming it", () => {
    const missing = join(dir, "no-such-input.txt");
    const r = runIdx(["build", missing, "-o", fresh()]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(missing);
    expectPlainError(r);
  });

  it("fails a missing output directory with exit 2", () => {
    const r = runIdx(["build", pairsFile, "-o", join(dir, "nope", "x.idx")]);
    expect(r.status).toBe(2);
    expectPlainError(r);
  });
});

describe("idx get", () => {
  it("prints the value of one present key and exits 0, for ordinary and edge keys", () => {
    for (const key of [1, 0, MAX_U32, ESCAPED_KEY, specUnhash(0x40000000 + 149), [...map.keys()][50]]) {
      const r = runIdx(["get", index, String(key)]);
      expect(r.status, `key ${key}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(`${map.get(key)}\n`);
      expect(r.stderr).toBe("");
    }
  });

  it("prints nothing for one missing key and exits 1", () => {
    for (const key of missesFor(map, 3).slice(0, 5)) {
      const r = runIdx(["get", index, String(key)]);
      expect(r.status, `key ${key}`).toBe(1);
      expect(r.stdout).toBe("");
    }
  });

  it("prints one line per key for several keys, an empty line for a missing one, exit 1 if any is missing", () => {
    const present = [...map.keys()];
    const absent = missesFor(map, 40);
    const keys: number[] = [];
    for (let i = 0; i < 40; i++) keys.push(present[(i * 37) % present.length], absent[i % absent.length]);
    const r = runIdx(["get", index, ...keys.map(String)]);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)).toEqual(keys.map((k) => (map.has(k) ? String(map.get(k)) : "")));
  });

  it("exits 0 when every one of several keys is found, the whole long cluster included", () => {
    const keys = [...map.keys()];
    const r = runIdx(["get", index, ...keys.map(String)]);
    expect(r.status, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(keys.map((k) => String(map.get(k))));
  });

  it("answers every miss aimed between the clustered keys (several keys)", () => {
    const misses = Array.from({ length: 20 }, (_, i) => specUnhash(0x40000000 + 150 + i)).filter((k) => !map.has(k));
    const r = runIdx(["get", index, ...misses.map(String)]);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)).toEqual(misses.map(() => ""));
  });

  it("reads keys from stdin: one output line per input line, empty for a missing key", () => {
    const present = [...map.keys()];
    const absent = missesFor(map, 30);
    const keys = [...present, ...absent].sort((a, b) => (a * 7919) % 101 - (b * 7919) % 101);
    const r = runIdx(["get", index], { input: keys.join("\n") + "\n" });
    expect(r.status).toBe(1);
    expect(lines(r.stdout)).toEqual(keys.map((k) => (map.has(k) ? String(map.get(k)) : "")));
    const all = runIdx(["get", index], { input: present.join("\r\n") });
    expect(all.status, all.stderr).toBe(0);
    expect(lines(all.stdout)).toEqual(present.map((k) => String(map.get(k))));
  });

  it("reads more than one batch of keys from stdin (150 000 lines) in order", () => {
    const present = [...map.keys()];
    const keys = Array.from({ length: 150_000 }, (_, i) => (i % 5 === 4 ? 7 + i * 2 : present[i % present.length]));
    const r = runIdx(["get", index], { input: keys.join("\n") + "\n" });
    const expected = keys.map((k) => (map.has(k) ? String(map.get(k)) : ""));
    expect(r.status).toBe(expected.includes("") ? 1 : 0);
    const got = lines(r.stdout);
    expect(got.length).toBe(keys.length);
    const firstWrong = got.findIndex((line, i) => line !== expected[i]);
    expect(firstWrong).toBe(-1);
  });

  it("exits 2 for a bad key argument, printing a plain error", () => {
    for (const bad of ["-1", "abc", "18446744073709551616", "0x10", "1.5", "1e3", "", " 5"]) {
      const r = runIdx(["get", index, bad]);
      expect(r.status, `key ${JSON.stringify(bad)}`).toBe(2);
      expect(r.stdout).toBe("");
      expectPlainError(r);
    }
    const mixed = runIdx(["get", index, "1", "x", "0"]);
    expect(mixed.status).toBe(2);
    expectPlainError(mixed);
  });

  it("exits 2 for a bad key on stdin", () => {
    const r = runIdx(["get", index], { input: "1\n0\nbanana\n5\n" });
    expect(r.status).toBe(2);
    expectPlainError(r);
  });

  describe("exits 2 for a missing or invalid file, with a plain error naming it", () => {
    const variants: [string, () => Uint8Array | null][] = [
      ["missing", () => null],
      ["empty", () => new Uint8Array(0)],
      ["text", () => Buffer.from("1 2\n3 4\n")],
      ["png", () => PNG_HEADER],
      ["truncated", () => readFileSync(index).subarray(0, 100)],
      ["truncated by one byte", () => readFileSync(index).subarray(0, readFileSync(index).length - 1)],
      ["appended", () => Buffer.concat([readFileSync(index), Buffer.from([0])])],
      ["bad header checksum", () => withBitFlipped(readFileSync(index), (OFF.afterVersion + 4) * 8)],
      ["directory", () => null],
    ];
    for (const [what, make] of variants) {
      it(what, () => {
        const path = join(dir, `invalid-${what.replace(/ /g, "-")}-${seq++}`);
        const bytes = make();
        if (what === "directory") mkdirSync(path);
        else if (bytes !== null) writeFileSync(path, bytes);
        for (const [args, input] of [
          [["get", path, "1"], ""],
          [["get", path, "1", "2"], ""],
          [["get", path], "1\n"],
          [["info", path], ""],
        ] as [string[], string][]) {
          const r = runIdx(args, { input });
          expect(r.status, `idx ${args.join(" ")}: ${r.stderr}`).toBe(2);
          expect(r.stderr).toContain(path);
          expectPlainError(r);
          expect(r.stderr, "an invalid file is not a bug in idx").not.toMatch(/unexpected error|bug in idx/i);
        }
      });
    }
  });
});

describe("idx verify", () => {
  it("exits 0 for an intact index", () => {
    const r = runIdx(["verify", index]);
    expect(r.status, r.stderr).toBe(0);
  });

  it("exits non-zero with a message naming the file when a bit is flipped anywhere", () => {
    const good = readFileSync(index);
    const slotCount = slotCountOf(good.length);
    for (const byte of [0, OFF.major, OFF.minor, 12, 24, 28, 40, 59, 60, 64, 64 + 8 * 100 + 5, 64 + 8 * (slotCount - 1), 64 + 8 * slotCount, good.length - 1]) {
      const path = fresh("damaged");
      writeFileSync(path, withBitFlipped(good, byte * 8 + 2));
      const r = runIdx(["verify", path]);
      expect(r.status, `flip in byte ${byte}`).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(r.stderr).toContain(path);
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
    }
  });

  it("exits non-zero for a truncated or missing file", () => {
    const cut = fresh("cut");
    writeFileSync(cut, readFileSync(index).subarray(0, 200));
    for (const path of [cut, join(dir, "missing.idx")]) {
      const r = runIdx(["verify", path]);
      expect(r.status).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(r.stderr).toContain(path);
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
    }
  });
});

describe("idx info", () => {
  it("prints a description that includes the entry count", () => {
    const r = runIdx(["info", index]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(String(map.size));
  });

  it("prints JSON with version, count, capacity, load, fileBytes and bytesPerEntry matching the file", () => {
    const r = runIdx(["info", index, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    const size = readFileSync(index).length;
    expect(info.version).toBe(`${VERSION_MAJOR}.${VERSION_MINOR}`);
    expect(info.count).toBe(map.size);
    expect(info.fileBytes).toBe(size);
    expect(info.capacity).toBeGreaterThanOrEqual(map.size - 1);
    expect(info.load).toBeCloseTo(info.count / info.capacity, 12);
    expect(info.bytesPerEntry).toBeCloseTo(size / map.size, 12);
  });
});

describe("help, version and usage errors", () => {
  it("--help, -h and CMD --help print help on stdout and exit 0", () => {
    for (const args of [["--help"], ["-h"], ["build", "--help"], ["get", "--help"], ["verify", "--help"], ["info", "--help"]]) {
      const r = runIdx(args);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stdout.length, args.join(" ")).toBeGreaterThan(20);
    }
    expect(runIdx(["--help"]).stdout).toMatch(/build[\s\S]*get[\s\S]*verify[\s\S]*info/);
    expect(runIdx(["get", "--help"]).stdout).not.toBe(runIdx(["--help"]).stdout);
  });

  it("--version prints the package version and exits 0", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const r = runIdx(["--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(version);
  });

  it("exits 2 with a message on stderr for an unknown command, no command, or missing arguments", () => {
    const cases: string[][] = [
      ["frobnicate"],
      [],
      ["build"],
      ["build", pairsFile],
      ["build", "-o", fresh()],
      ["get"],
      ["verify"],
      ["info"],
      ["info", index, "--frob"],
      ["verify", index, index],
      ["build", pairsFile, "-o"],
    ];
    for (const args of cases) {
      const r = runIdx(args);
      expect(r.status, `idx ${args.join(" ")}`).toBe(2);
      expect(r.stderr.trim().length, `idx ${args.join(" ")}`).toBeGreaterThan(0);
      expect(r.stdout, `idx ${args.join(" ")}`).toBe("");
      expect(r.stderr).not.toMatch(/^\s{4}at /m);
      if (args.length > 0) expectPlainError(r);
    }
  });
});
