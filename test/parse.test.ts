/**
 * Text input of buildFromText (and so of `idx build`): the accepted syntax, chunking of the
 * input stream, and the refusal of every kind of bad line with file:line, leaving the
 * existing output untouched and no temp file behind.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdxError, build, buildFromText } from "../src/index";
import { chunksAt, chunksOf } from "./helpers/chunks";
import { SPEC_ESCAPED_KEY } from "./helpers/keys";
import { makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

let dir: string;
let seq = 0;
beforeAll(() => {
  dir = makeTempDir("idx-parse-");
});
afterAll(removeTempDirs);

const fresh = (name = "out") => join(dir, `${name}-${seq++}.idx`);

function readMap(path: string): Map<number, number> {
  const ix = IdIndex.open(path);
  try {
    return new Map(ix);
  } finally {
    ix.close();
  }
}

/** Builds `input` (text, or a stream) and returns the map the index holds and its bytes. */
async function parse(input: string | AsyncIterable<Uint8Array>, name?: string): Promise<{ map: Map<number, number>; bytes: Buffer }> {
  const out = fresh();
  await buildFromText(typeof input === "string" ? chunksOf(input, 1 << 16) : input, out, { name, sync: false });
  return { map: readMap(out), bytes: readFileSync(out) };
}

async function bytesOfMap(map: Map<number, number>): Promise<Buffer> {
  const out = fresh("ref");
  await build(map, out, { sync: false });
  return readFileSync(out);
}

describe("accepted syntax", () => {
  const cases: [string, string, [number, number][]][] = [
    ["a tab", "1\t2\n", [[1, 2]]],
    ["one space", "1 2\n", [[1, 2]]],
    ["several spaces", "1     2\n", [[1, 2]]],
    ["a comma", "1,2\n", [[1, 2]]],
    ["CRLF line ends", "1\t2\r\n3 4\r\n5,6\r\n", [[1, 2], [3, 4], [5, 6]]],
    ["no newline after the last line", "1 2\n3 4", [[1, 2], [3, 4]]],
    ["CRLF and no newline after the last line", "1 2\r\n3 4", [[1, 2], [3, 4]]],
    ["blank lines", "\n1 2\n\n\n3 4\n\n", [[1, 2], [3, 4]]],
    ["blank CRLF lines", "\r\n1 2\r\n\r\n3 4\r\n", [[1, 2], [3, 4]]],
    ["# comment lines", "# header\n1 2\n#3 4\n# 5 6\n7 8\n#\n", [[1, 2], [7, 8]]],
    ["a comment line that looks like a bad line", "# -1 0x10 banana 4294967296 1.5\n1 2\n", [[1, 2]]],
    ["the full uint32 domain", "0 0\n4294967295 4294967295\n0000000000 4294967295\n", [[0, 4294967295], [4294967295, 4294967295]]],
    ["the escaped key", `${SPEC_ESCAPED_KEY}\t123\n`, [[SPEC_ESCAPED_KEY, 123]]],
    ["leading zeros are decimal, not octal", "010 007\n0000000000000000000000009 08\n", [[10, 7], [9, 8]]],
    ["duplicate keys: the last value wins", "1 1\n2 2\n1 3\n1 4\n2 0\n", [[1, 4], [2, 0]]],
  ];
  for (const [what, text, pairs] of cases) {
    it(`accepts ${what}`, async () => {
      const { map, bytes } = await parse(text);
      expect(map).toEqual(new Map(pairs));
      // Text input is just another way to give the map: same map, same bytes.
      expect(bytes.equals(await bytesOfMap(new Map(pairs)))).toBe(true);
    });
  }

  it("gives an empty index for empty input and for input of only comments and blank lines", async () => {
    for (const text of ["", "\n", "\r\n", "# nothing here\n\n# still nothing\r\n"]) {
      const { map, bytes } = await parse(text);
      expect(map.size).toBe(0);
      expect(bytes.equals(await bytesOfMap(new Map()))).toBe(true);
    }
  });

  it("reads a file path as well as a stream, with the same result", async () => {
    const input = join(dir, "pairs.txt");
    writeFileSync(input, "# ids\r\n7\t70\r\n8,80\r\n9 90\r\n7 71");
    const out = fresh();
    await buildFromText(input, out, { sync: false });
    expect(readMap(out)).toEqual(new Map([[7, 71], [8, 80], [9, 90]]));
    expect(readFileSync(out).equals((await parse(readFileSync(input, "utf8"))).bytes)).toBe(true);
  });

  it("parses a large input exactly (100 000 lines, every separator, CRLF mixed in)", async () => {
    const seps = ["\t", " ", "  ", ",", "\t\t"];
    const lines: string[] = [];
    const expected = new Map<number, number>();
    for (let i = 0; i < 100_000; i++) {
      const key = (i * 2654435761) >>> 0;
      const value = (4294967295 - i * 7) >>> 0;
      lines.push(`${key}${seps[i % seps.length]}${value}${i % 3 === 0 ? "\r" : ""}`);
      expected.set(key, value);
    }
    const { map } = await parse(lines.join("\n") + "\n");
    expect(map.size).toBe(expected.size);
    expect(map).toEqual(expected);
  });
});

describe("lines that span stream chunks", () => {
  const text =
    "# pairs\r\n" +
    "4294967295\t4294967295\r\n" +
    "\r\n" +
    "123456789 987654321\r\n" +
    `${SPEC_ESCAPED_KEY},4000000000\r\n` +
    "0 0\n" +
    "42\t7\r\n" +
    "123456789 5";
  const expected = new Map([[4294967295, 4294967295], [123456789, 5], [SPEC_ESCAPED_KEY, 4000000000], [0, 0], [42, 7]]);

  it("gives the same index whatever the chunk size (1 to 13 bytes)", async () => {
    const whole = await parse(text);
    expect(whole.map).toEqual(expected);
    for (let size = 1; size <= 13; size++) {
      const { bytes } = await parse(chunksOf(text, size));
      expect(bytes.equals(whole.bytes), `chunks of ${size} bytes`).toBe(true);
    }
  });

  it("gives the same index for a cut at every byte position (splitting CRLFs and numbers)", async () => {
    const whole = await parse(text);
    const length = Buffer.byteLength(text);
    for (let cut = 1; cut < length; cut++) {
      const { bytes } = await parse(chunksAt(text, [cut]));
      expect(bytes.equals(whole.bytes), `cut at byte ${cut} (${JSON.stringify(text.slice(Math.max(0, cut - 3), cut))}|${JSON.stringify(text.slice(cut, cut + 3))})`).toBe(true);
    }
  });

  it("handles empty chunks between real ones", async () => {
    async function* withEmpties(): AsyncGenerator<Uint8Array> {
      for await (const c of chunksOf(text, 3)) {
        yield new Uint8Array(0);
        yield c;
      }
      yield new Uint8Array(0);
    }
    expect((await parse(withEmpties())).map).toEqual(expected);
  });

  it("takes chunks over a SharedArrayBuffer (the addon, which refuses them, is given a copy)", async () => {
    async function* shared(): AsyncGenerator<Uint8Array> {
      for await (const c of chunksOf(text, 5)) {
        const s = new Uint8Array(new SharedArrayBuffer(c.length + 4), 2, c.length);
        s.set(c);
        yield s;
      }
    }
    expect((await parse(shared())).map).toEqual(expected);
  });

  it("parses random pair lists cut into random chunks exactly (property)", async () => {
    const u32 = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(0, 1, 9, 10, 4294967295, 4294967294, SPEC_ESCAPED_KEY),
    );
    const line = fc.record({
      key: u32,
      value: u32,
      sep: fc.constantFrom("\t", " ", "   ", ",", " , ", "\t\t"),
      crlf: fc.boolean(),
      noise: fc.constantFrom("", "", "", "# a comment\n", "\n", "\r\n"),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), async (lines, cutSeeds, finalNewline) => {
        let text = lines.map((l) => `${l.noise}${l.key}${l.sep}${l.value}${l.crlf ? "\r" : ""}`).join("\n");
        if (finalNewline && text !== "") text += "\n";
        const expected = new Map(lines.map((l) => [l.key, l.value] as [number, number]));
        const length = Buffer.byteLength(text);
        const cuts = length > 1 ? cutSeeds.map((s) => 1 + (s % (length - 1))) : [];
        const { map, bytes } = await parse(chunksAt(text, cuts));
        expect(map).toEqual(expected);
        expect(bytes.equals(await bytesOfMap(expected))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe("bad lines", () => {
  /** Runs a build that must fail on `line` and checks everything the contract promises. */
  async function expectParseFailure(
    input: (out: string) => string | AsyncIterable<Uint8Array>,
    line: number,
    name: string,
    options: { name?: string } = {},
  ): Promise<IdxError> {
    const sub = makeTempDir("idx-parse-bad-");
    const out = join(sub, "target.idx");
    await build([[1, 1], [2, 2]], out, { sync: false });
    const before = readFileSync(out);
    let error: unknown;
    try {
      await buildFromText(input(out), out, { ...options, sync: false });
    } catch (e) {
      error = e;
    }
    expect(error, "the build must fail").toBeInstanceOf(IdxError);
    const e = error as IdxError;
    expect(e.code).toBe("ERR_IDX_PARSE");
    expect(e.message).toContain(`${name}:${line}`);
    expect(readFileSync(out).equals(before), "the existing output must be byte-identical").toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
    return e;
  }

  const bad: [string, string][] = [
    ["a negative key", "-1 5"],
    ["a negative value", "5 -1"],
    ["a fractional key", "1.5 2"],
    ["a fractional value", "1 2.0"],
    ["a word as key", "abc 1"],
    ["a word as value", "1 abc"],
    ["a hex key", "0x10 1"],
    ["a hex value", "1 0xff"],
    ["a key over 2^64-1", "18446744073709551616 1"],
    ["a value over 2^64-1", "1 18446744073709551616"],
    ["a key far over 2^64-1", "99999999999999999999999 1"],
    ["a key in exponent notation", "1e3 1"],
    ["a key with a plus sign", "+1 2"],
    ["a missing value", "17"],
    ["a missing value after a separator", "17\t"],
    ["a missing value after a comma", "17,"],
    ["a missing key", ",17"],
    ["an extra field", "1 2 3"],
    ["an extra field after commas", "1,2,3"],
    ["two commas", "1,,2"],
    ["a trailing comment", "1 2 # two"],
    ["a NUL byte", "1\u00002"],
  ];

  for (const [what, badLine] of bad) {
    it(`refuses ${what} (${JSON.stringify(badLine)}) with its file and line, touching nothing`, async () => {
      const input = join(dir, `bad-${seq++}.txt`);
      // Line 5 is bad: comments and blank lines count as lines.
      writeFileSync(input, `1 10\n# comment\n\n2 20\n${badLine}\n3 30\n`);
      await expectParseFailure(() => input, 5, input);
    });
  }

  it("counts CRLF lines correctly and names line 1 and a last line without newline", async () => {
    const input = join(dir, `crlf-${seq++}.txt`);
    writeFileSync(input, "1 1\r\n\r\n# c\r\n4 4\r\n5 x\r\n");
    await expectParseFailure(() => input, 5, input);
    writeFileSync(input, "banana\n1 1\n");
    await expectParseFailure(() => input, 1, input);
    writeFileSync(input, "1 1\n2 2\n3");
    await expectParseFailure(() => input, 3, input);
  });

  it("names the right line when the bad line spans tiny chunks, with the name given", async () => {
    const text = "1 1\r\n2 2\r\n\r\n# x\r\n3 3\r\n4 -4\r\n5 5\r\n";
    for (const size of [1, 2, 3, 7]) {
      await expectParseFailure(() => chunksOf(text, size), 6, "pairs.tsv", { name: "pairs.tsv" });
    }
  });

  it("reports only the first bad line", async () => {
    const input = join(dir, `two-bad-${seq++}.txt`);
    writeFileSync(input, "1 1\nx 2\ny 3\n");
    const e = await expectParseFailure(() => input, 2, input);
    expect(e.message).not.toContain(`${input}:3`);
  });

  it("refuses a bad line in a fresh output without creating the output", async () => {
    const sub = makeTempDir("idx-parse-new-");
    const out = join(sub, "never.idx");
    await expect(buildFromText(chunksOf("1 1\n2 two\n", 4), out, { sync: false })).rejects.toMatchObject({ code: "ERR_IDX_PARSE" });
    expect(existsSync(out)).toBe(false);
    expect(tempFilesIn(sub)).toEqual([]);
  });
});

describe("input that cannot be read, and aborts", () => {
  it("refuses a missing input file with ERR_IDX_IO naming it, touching nothing", async () => {
    const sub = makeTempDir("idx-parse-io-");
    const out = join(sub, "target.idx");
    await build([[1, 1]], out, { sync: false });
    const before = readFileSync(out);
    const missing = join(sub, "no-such-pairs.txt");
    const e = await buildFromText(missing, out, { sync: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect((e as IdxError).code).toBe("ERR_IDX_IO");
    expect((e as IdxError).message).toContain(missing);
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("refuses a directory as input with an IdxError", async () => {
    const sub = makeTempDir("idx-parse-dir-");
    const e = await buildFromText(sub, join(sub, "x.idx"), { sync: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect(existsSync(join(sub, "x.idx"))).toBe(false);
  });

  it("stops with ERR_IDX_INTERRUPTED when the signal aborts mid-stream, touching nothing", async () => {
    const sub = makeTempDir("idx-parse-abort-");
    const out = join(sub, "target.idx");
    await build([[1, 1]], out, { sync: false });
    const before = readFileSync(out);
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) {
        if (i === 10) controller.abort();
        yield Buffer.from(`${i} ${i}\n`);
      }
    }
    const e = await buildFromText(slow(), out, { signal: controller.signal, sync: false }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IdxError);
    expect((e as IdxError).code).toBe("ERR_IDX_INTERRUPTED");
    expect(readFileSync(out).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("stops with ERR_IDX_INTERRUPTED for an already-aborted signal, creating nothing", async () => {
    const sub = makeTempDir("idx-parse-abort0-");
    const out = join(sub, "never.idx");
    const e = await buildFromText(chunksOf("1 1\n", 2), out, { signal: AbortSignal.abort(), sync: false }).catch((x: unknown) => x);
    expect((e as IdxError).code).toBe("ERR_IDX_INTERRUPTED");
    expect(existsSync(out)).toBe(false);
    expect(tempFilesIn(sub)).toEqual([]);
  });
});
