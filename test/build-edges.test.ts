/**
 * The edges of a build's input and resources (issue 17): standard input that is closed or
 * /dev/null is no input at all, binary input that is plainly text is refused, and a build that
 * spills keeps a small, fixed number of descriptors open whatever the number of pairs and groups.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, build, buildFromBinary, buildFromText } from "../src/index";
import { BIN, DIST_INDEX, expectPlainError, requireFreshBuild, runIdx } from "./helpers/cli";
import { ADDON, makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

let dir: string;
let live: string;
let liveBytes: Buffer;
beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-build-edges-");
  live = join(dir, "live.idx");
  await build([[1, 10], [2, 20], [3, 30]], live, { sync: false });
  liveBytes = readFileSync(live);
});
afterAll(removeTempDirs);

/** `idx ARGS` from sh, after `redirect` (e.g. `exec <&-;`) has set up its stdin. */
function idxWithStdin(args: string[], redirect: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("sh", ["-c", `${redirect} exec "$0" "$@"`, process.execPath, BIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `script` (CommonJS, with `idx` the package's main) in node under sh's `redirect`. */
function nodeWithStdin(script: string, redirect: string): { status: number | null; stdout: string; stderr: string } {
  const full = `const idx = require(${JSON.stringify(DIST_INDEX)});\n${script}`;
  const r = spawnSync("sh", ["-c", `${redirect} exec "$0" -e "$1"`, process.execPath, full], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function copyOfLive(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, liveBytes);
  return path;
}

describe("standard input that is closed or /dev/null holds no pairs: build and put refuse it, the index untouched", () => {
  const stdins: [string, string][] = [["closed (<&-)", "exec <&-;"], ["/dev/null", "exec </dev/null;"]];
  for (const [what, redirect] of stdins) {
    it(`idx build - and idx put FILE -, text and --binary, with stdin ${what}: exit 2, one line naming <stdin>`, () => {
      const target = copyOfLive(`build-${what.length}.idx`);
      for (const args of [["build", "-", "-o", target], ["build", "--binary", "-", "-o", target], ["put", target, "-"], ["put", "--binary", target, "-"]]) {
        const r = idxWithStdin(args, redirect);
        expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/^idx: <stdin>: standard input is closed or \/dev\/null, so it holds no pairs/);
        expect(r.stderr).toContain("give the pairs on stdin");
        if (args[0] === "build") expect(r.stderr).toContain("to build an empty index, give an empty file");
        expectPlainError(r as never, 1);
        expect(readFileSync(target).equals(liveBytes), args.join(" ")).toBe(true);
      }
      expect(tempFilesIn(dir)).toEqual([]);
    });

    it(`buildFromText(process.stdin) and buildFromBinary(process.stdin) with stdin ${what}: ERR_IDX_IO naming <stdin>`, () => {
      const target = copyOfLive(`api-${what.length}.idx`);
      for (const fn of ["buildFromText", "buildFromBinary"]) {
        const r = nodeWithStdin(
          `idx.${fn}(process.stdin, ${JSON.stringify(target)}).then(() => console.log("built"), (e) => console.log(e.code, e.path, e.message));`,
          redirect,
        );
        expect(r.stdout).toMatch(/^ERR_IDX_IO <stdin> <stdin>: standard input is closed or \/dev\/null/);
        expect(readFileSync(target).equals(liveBytes)).toBe(true);
      }
    });
  }

  it("a descriptor 0 closed inside the process (EBADF) is refused the same way", () => {
    const target = copyOfLive("ebadf.idx");
    const r = nodeWithStdin(
      `require("node:fs").closeSync(0);
       idx.buildFromText(process.stdin, ${JSON.stringify(target)}).then(() => console.log("built"), (e) => console.log(e.code, e.message));`,
      "",
    );
    expect(r.stdout).toMatch(/^ERR_IDX_IO <stdin>: standard input is closed or \/dev\/null/);
    expect(readFileSync(target).equals(liveBytes)).toBe(true);
  });

  it("an empty file, by path or on stdin, still builds an empty index; put of one changes nothing", () => {
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    const byPath = copyOfLive("empty-by-path.idx");
    expect(runIdx(["build", empty, "-o", byPath, "-q"]).status).toBe(0);
    expect(IdIndex.open(byPath).size).toBe(0);
    const onStdin = copyOfLive("empty-on-stdin.idx");
    const r = idxWithStdin(["build", "-", "-o", onStdin, "-q"], `exec < "${empty}";`);
    expect(r.status, r.stderr).toBe(0);
    expect(IdIndex.open(onStdin).size).toBe(0);
    if (!ADDON) return; // put writes in place: it needs the addon
    const put = copyOfLive("empty-put.idx");
    expect(idxWithStdin(["put", put, "-", "-q"], `exec < "${empty}";`).status).toBe(0);
    expect(new Map(IdIndex.open(put))).toEqual(new Map([[1, 10], [2, 20], [3, 30]]));
  });
});

describe("binary input that is plainly text (its first 4 KiB printable ASCII, tabs and line ends, with a line end) is refused", () => {
  it("idx build --binary and idx put --binary of a text file: ERR_IDX_PARSE naming the file and saying to drop --binary", () => {
    const text = join(dir, "pairs.txt");
    writeFileSync(text, Array.from({ length: 2000 }, (_, i) => `${i}\t${i * 2}`).join("\n") + "\n");
    const target = copyOfLive("text-as-binary.idx");
    for (const args of [["build", "--binary", text, "-o", target], ["put", "--binary", target, text]]) {
      const r = runIdx(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(`idx: ${text}: looks like text, not binary pairs: its first 4096 bytes are printable ASCII with line ends ("0\\t0\\n1\\t2\\n`);
      expect(r.stderr).toContain("drop --binary");
      expectPlainError(r);
      expect(readFileSync(target).equals(liveBytes)).toBe(true);
    }
    // On stdin, and through the API, the same.
    const piped = idxWithStdin(["build", "--binary", "-", "-o", target], `exec < "${text}";`);
    expect(piped.stderr).toContain("idx: <stdin>: looks like text, not binary pairs");
    expect(readFileSync(target).equals(liveBytes)).toBe(true);
    return expect(buildFromBinary(text, target)).rejects.toMatchObject({ code: "ERR_IDX_PARSE", path: text });
  });

  it("a short text, even 8 bytes long (a whole pair by length), is refused: \"1234567\\n\"", async () => {
    const short = join(dir, "short.txt");
    writeFileSync(short, "1234567\n");
    await expect(buildFromBinary(short, join(dir, "short.idx"))).rejects.toMatchObject({
      code: "ERR_IDX_PARSE", message: expect.stringContaining("its first 8 bytes are printable ASCII with line ends"),
    });
  });

  it("however the input is cut into chunks: byte by byte, text is refused and pairs are read", async () => {
    async function* byteByByte(bytes: Uint8Array) {
      for (const b of bytes) yield Uint8Array.of(b);
    }
    const text = Buffer.from("1 2\n".repeat(1100)); // past 4096 bytes
    await expect(buildFromBinary(byteByByte(text), join(dir, "bytes.idx"), { name: "cut" })).rejects.toMatchObject({
      code: "ERR_IDX_PARSE", path: "cut", message: expect.stringContaining("its first 4096 bytes are printable"),
    });
    const pairs = Buffer.alloc(8 * 600, "1 2\n3 4\n");
    pairs[4095] = 0xff; // the last byte of the probe says binary
    const r = await buildFromBinary(byteByByte(pairs), join(dir, "bytes.idx"), { sync: false });
    expect(r.pairs).toBe(600);
  });

  it("real binary pairs are not refused: small IDs (NUL bytes), printable bytes with no line end, a NUL inside the first 4 KiB", async () => {
    const small = Buffer.alloc(8 * 3);
    [[1, 2], [10, 13], [9, 32]].forEach(([k, v], i) => { small.writeUInt32LE(k, 8 * i); small.writeUInt32LE(v, 8 * i + 4); });
    // Pairs whose every byte is printable, but no byte a line end: not text by the rule.
    const printable = Buffer.alloc(8 * 1000, "ABCDEFGH");
    // Text-like for 4095 bytes, then a NUL at byte 4095: binary.
    const late = Buffer.alloc(4096 * 2, "1 2\n");
    late[4095] = 0;
    for (const [name, bytes, count] of [["small", small, 3], ["printable", printable, 1], ["late", late, null]] as const) {
      const file = join(dir, `${name}.bin`);
      writeFileSync(file, bytes);
      const r = await buildFromBinary(file, join(dir, `${name}.idx`), { sync: false });
      expect(r.pairs, name).toBe(bytes.length / 8);
      if (count !== null) expect(r.count, name).toBe(count);
    }
    // What idx dump --binary writes always reads back.
    const dumped = spawnSync(process.execPath, [BIN, "dump", "--binary", live]).stdout;
    const again = join(dir, "again.idx");
    expect(runIdx(["build", "--binary", "-", "-o", again, "-q"], { input: dumped }).status).toBe(0);
    expect(readFileSync(again).equals(liveBytes)).toBe(true);
  });

  it("the rule is the help's: idx build --help and idx put --help state it", () => {
    for (const command of ["build", "put"]) {
      const help = runIdx([command, "--help"]).stdout.replace(/\s+/g, " ");
      expect(help).toContain("With --binary, input whose first 4096 bytes (or all of it, when shorter) are printable ASCII, tabs, CRs and LFs, with at least one LF, is refused as text");
    }
  });
});

describe("a spilling build keeps a small, fixed number of descriptors open", () => {
  it("1 M pairs with memoryPairs 1024 (1,000 spills, 65,536 groups) under ulimit -n 64: the bytes of an in-memory build", async () => {
    const sub = makeTempDir("idx-fds-");
    const n = 1_000_000;
    const keys = new Uint32Array(n);
    const values = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      keys[i] = Math.imul(i % 900_001, 0x9e3779b1) >>> 0; // duplicates: the last value must win
      values[i] = i;
    }
    const pairs = Buffer.alloc(8 * n);
    for (let i = 0; i < n; i++) {
      pairs.writeUInt32LE(keys[i], 8 * i);
      pairs.writeUInt32LE(values[i], 8 * i + 4);
    }
    const input = join(sub, "pairs.bin");
    writeFileSync(input, pairs);
    const spilled = join(sub, "spilled.idx");
    const script = `require(${JSON.stringify(DIST_INDEX)})
      .buildFromBinary(${JSON.stringify(input)}, ${JSON.stringify(spilled)}, { memoryPairs: 1024, sync: false })
      .then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e.message); process.exit(1); });`;
    const r = spawnSync("bash", ["-c", `ulimit -n 64 && exec "$0" -e "$1"`, process.execPath, script], { encoding: "utf8", timeout: 300_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ pairs: n, count: 900_001 });
    const inMemory = join(sub, "memory.idx");
    await build({ keys, values }, inMemory, { sync: false });
    expect(readFileSync(spilled).equals(readFileSync(inMemory))).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  }, 300_000);
});

describe("buildFromText of an empty file by path", () => {
  it("builds an empty index (an explicit empty input is not closed stdin)", async () => {
    const empty = join(dir, "empty-api.txt");
    writeFileSync(empty, "");
    const out = join(dir, "empty-api.idx");
    expect((await buildFromText(empty, out, { sync: false })).count).toBe(0);
  });
});

describe("input is read into one buffer, whatever its size: no allocation per chunk for the collector to free late", () => {
  /** In a child (stdin as `redirect` sets it): the chunks of stdinChunks(), their bytes, and how many buffers held them. */
  function stdinReport(redirect: string): { chunks: number; bytes: number; buffers: number; sum: number } {
    const input = JSON.stringify(join(__dirname, "..", "dist", "build", "input.js"));
    const script = `(async () => {
      const { stdinChunks } = require(${input});
      const buffers = new Set();
      let chunks = 0, bytes = 0, sum = 0;
      for await (const c of stdinChunks()) {
        chunks++; bytes += c.length; buffers.add(c.buffer);
        for (let i = 0; i < c.length; i++) sum = (sum * 31 + c[i]) % 1000000007;
      }
      console.log(JSON.stringify({ chunks, bytes, buffers: buffers.size, sum }));
    })();`;
    const r = spawnSync("sh", ["-c", `${redirect} "$0" -e "$1"`, process.execPath, script], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    return JSON.parse(r.stdout);
  }

  it("a file by path, stdin redirected from a file, and stdin from a pipe: every chunk in one buffer, every byte once", async () => {
    const file = join(dir, "chunks.bin");
    const bytes = Buffer.alloc(20 << 20);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >>> 13)) & 0xff;
    writeFileSync(file, bytes);
    const { fileChunks } = await import("../src/build/input");
    const buffers = new Set<ArrayBufferLike>();
    let at = 0;
    for await (const c of fileChunks(file)) {
      expect(bytes.subarray(at, at + c.length).equals(c)).toBe(true);
      at += c.length;
      buffers.add(c.buffer);
    }
    expect(at).toBe(bytes.length);
    expect(buffers.size).toBe(1);
    const redirected = stdinReport(`exec < "${file}";`);
    const piped = stdinReport(`cat "${file}" |`);
    expect(redirected).toMatchObject({ bytes: bytes.length, buffers: 1 });
    expect(piped).toMatchObject({ bytes: bytes.length, buffers: 1, sum: redirected.sum });
    expect(piped.chunks).toBeGreaterThan(20); // a pipe gives it in many reads
  });

  it("a pipe that is slow, ends without a newline or is empty gives exactly what was written", () => {
    const slow = stdinReport(`(printf '1 2\\n3'; sleep 0.3; printf ' 4') |`);
    expect(slow).toMatchObject({ bytes: 7, buffers: 1 });
    expect(stdinReport("printf '' |")).toEqual({ chunks: 0, bytes: 0, buffers: 0, sum: 0 });
    const built = idxWithStdin(["build", "-", "-o", join(dir, "slow.idx"), "-q"], "(printf '1 2\\n3'; sleep 0.3; printf ' 4') |");
    expect(built.status, built.stderr).toBe(0);
    expect(new Map(IdIndex.open(join(dir, "slow.idx")))).toEqual(new Map([[1, 2], [3, 4]]));
  });
});
