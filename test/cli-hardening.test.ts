/**
 * The idx command against what a hostile tester does to it: output that cannot be written,
 * signals, files it must not overwrite, huge, binary or BOM input, and one exit status per
 * meaning across every command. Each case of issue 10's CLI list has a test here.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, build } from "../src/index";
import { OFF, withBitFlipped } from "./helpers/bytes";
import { BIN, expectPlainError, requireFreshBuild, runIdx } from "./helpers/cli";
import { ADDON, makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

let dir: string;
let index: string;
let pairs: string;
let notes: string;
let damaged: string;

beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-cli-hard-");
  pairs = join(dir, "pairs.tsv");
  writeFileSync(pairs, Array.from({ length: 5000 }, (_, i) => `${i}\t${i * 3}`).join("\n") + "\n");
  index = join(dir, "main.idx");
  expect(runIdx(["build", pairs, "-o", index, "-q"]).status).toBe(0);
  notes = join(dir, "notes.txt");
  writeFileSync(notes, "my notes\n");
  damaged = join(dir, "damaged.idx");
  writeFileSync(damaged, withBitFlipped(readFileSync(index), (OFF.slots + 8 * 40 + 5) * 8));
});
afterAll(removeTempDirs);

/** Runs idx with stdout sent to /dev/full (every write fails with ENOSPC). */
function toDevFull(args: string[], input = ""): { status: number | null; stderr: string } {
  const r = spawnSync("sh", ["-c", `exec "$0" "$@" > /dev/full`, process.execPath, BIN, ...args], { input, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

/** Runs `idx ARGS | head -c 1` and gives idx's own exit status and stderr. */
function intoClosedPipe(args: string[]): { status: number; stderr: string } {
  const script = `"$0" "$@" 2>"${join(dir, "pipe.err")}" | head -c 1 > /dev/null; exit \${PIPESTATUS[0]}`;
  const r = spawnSync("bash", ["-c", script, process.execPath, BIN, ...args], { encoding: "utf8" });
  return { status: r.status ?? -1, stderr: readFileSync(join(dir, "pipe.err"), "utf8") };
}

describe("output that cannot be written: one plain line and exit 2, never a stack or 'a bug'", () => {
  const cases: [string, string[], string?][] = [
    ["dump", ["dump", "INDEX"]],
    ["dump --binary", ["dump", "INDEX", "--binary"]],
    ["info", ["info", "INDEX"]],
    ["info --json", ["info", "INDEX", "--json"]],
    ["verify", ["verify", "INDEX"]],
    ["--help", ["--help"]],
    ["build --help", ["build", "--help"]],
    ["--version", ["--version"]],
    ["get FILE KEY", ["get", "INDEX", "7"]],
    ["get FILE KEY KEY", ["get", "INDEX", "7", "8"]],
    ["get FILE < keys", ["get", "INDEX"], "1\n2\n3\n"],
  ];
  for (const [name, args, input] of cases) {
    it(`${name} > /dev/full`, () => {
      const r = toDevFull(args.map((a) => (a === "INDEX" ? index : a)), input);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toBe("idx: cannot write to standard output: no space left on device (ENOSPC)\n");
    });
  }

  it("a reader that goes away early (| head) is not an error: exit 0, nothing on stderr", () => {
    for (const args of [["dump", index], ["dump", index, "--binary"], ["--help"], ["info", index]]) {
      const r = intoClosedPipe(args);
      expect(r.stderr, args.join(" ")).toBe("");
      expect(r.status, args.join(" ")).toBe(0);
    }
  });
});

describe("signals end a build with 128 + the signal, the old output untouched and no temp file", () => {
  for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130], ["SIGHUP", 129]] as const) {
    it(`${signal} while reading stdin: exit ${status}`, async () => {
      const sub = makeTempDir("idx-signal-");
      const out = join(sub, "out.idx");
      expect(runIdx(["build", "-", "-o", out, "-q"], { input: "1 1\n" }).status).toBe(0);
      const before = readFileSync(out);
      const child = spawn(process.execPath, [BIN, "build", "-", "-o", out], { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      // Fill the pipe well past its kernel buffer and wait for it to drain: the build is then
      // certainly reading stdin, with its signal handlers installed.
      let text = "";
      for (let i = 0; i < 100_000; i++) text += `${i}\t${i}\n`;
      child.stdin.on("error", () => undefined);
      if (!child.stdin.write(text)) await new Promise((r) => child.stdin.once("drain", r));
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      expect(code, stderr).toBe(status);
      expect(readFileSync(out).equals(before)).toBe(true);
      expect(tempFilesIn(sub)).toEqual([]);
    });
  }
});

describe("what idx will not overwrite", () => {
  it("build refuses its own input as output, even with --force, and leaves it byte-identical", () => {
    const input = join(makeTempDir("idx-same-"), "same.tsv");
    writeFileSync(input, "1 2\n3 4\n");
    const before = readFileSync(input);
    for (const extra of [[], ["--force"]]) {
      const r = runIdx(["build", input, "-o", input, ...extra]);
      expect(r.status).toBe(2);
      expectPlainError(r);
      expect(r.stderr).toContain("is the output itself");
      expect(readFileSync(input).equals(before)).toBe(true);
    }
  });

  it("build -o refuses a file that is not an index, names --force, and --force replaces it", () => {
    const target = join(makeTempDir("idx-notindex-"), "notes.txt");
    writeFileSync(target, "precious\n");
    const r = runIdx(["build", pairs, "-o", target]);
    expect(r.status).toBe(2);
    expectPlainError(r);
    expect(r.stderr).toContain("is not an idx index, so it was not replaced");
    expect(r.stderr).toContain("--force");
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    expect(runIdx(["build", pairs, "-o", target, "--force", "-q"]).status).toBe(0);
    expect(runIdx(["get", target, "7"]).stdout).toBe("21\n");
  });

  it("build -o replaces an index (even a damaged one: rebuilding repairs it) and an empty file", () => {
    const sub = makeTempDir("idx-replaceable-");
    const copy = join(sub, "damaged.idx");
    writeFileSync(copy, readFileSync(damaged));
    expect(runIdx(["build", pairs, "-o", copy, "-q"]).status).toBe(0);
    expect(runIdx(["verify", copy]).status).toBe(0);
    const empty = join(sub, "empty.idx");
    writeFileSync(empty, "");
    expect(runIdx(["build", pairs, "-o", empty, "-q"]).status).toBe(0);
  });

  it("cp refuses a target that is not an index (without --force), and its own source", () => {
    const sub = makeTempDir("idx-cp-refuse-");
    const target = join(sub, "notes.txt");
    writeFileSync(target, "precious\n");
    const r = runIdx(["cp", index, target]);
    expect(r.status).toBe(2);
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    const same = runIdx(["cp", index, index]);
    expect(same.status).toBe(2);
    expect(same.stderr).toContain("are the same file");
  });

  it("put refuses pairs that are the index itself", () => {
    const r = runIdx(["put", index, index]);
    expect(r.status).toBe(2);
    expectPlainError(r);
  });
});

describe("input quoted at a readable length, binary input and a BOM named", () => {
  it("a 50 MB number gives a message under 400 bytes, once the line passes 1 MiB", () => {
    const big = join(dir, "huge.tsv");
    writeFileSync(big, `1 ${"9".repeat(50_000_000)}\n`);
    const r = runIdx(["build", big, "-o", join(dir, "huge.idx")]);
    expect(r.status).toBe(2);
    expectPlainError(r);
    expect(r.stderr.length).toBeLessThan(400);
    expect(r.stderr).toContain('huge.tsv:1: the line is over 1048576 bytes long, and a pair needs a few dozen: "1 999');
    const shorter = join(dir, "number.tsv");
    writeFileSync(shorter, `1 ${"9".repeat(500_000)}\n`);
    expect(runIdx(["build", shorter, "-o", join(dir, "huge.idx")]).stderr).toContain("is over 18446744073709551615");
  });

  it("a 5 MB line of letters: a short message", () => {
    const big = join(dir, "letters.tsv");
    writeFileSync(big, `1 2\n${"x".repeat(5_000_000)}\n`);
    const r = runIdx(["build", big, "-o", join(dir, "letters.idx")]);
    expect(r.status).toBe(2);
    expect(r.stderr.length).toBeLessThan(400);
    expect(r.stderr).toContain(":2:");
  });

  it("binary input is named as such, and --binary is suggested", () => {
    const bin = join(dir, "random.bin");
    writeFileSync(bin, Buffer.from([0x31, 0x20, 0x32, 0x0a, 0x00, 0xff, 0x13, 0x88, 0x01]));
    const r = runIdx(["build", bin, "-o", join(dir, "bin.idx")]);
    expect(r.status).toBe(2);
    expectPlainError(r);
    expect(r.stderr).toContain("binary data");
    expect(r.stderr).toContain("--binary");
    expect(r.stderr).not.toContain("\ufffd");
  });

  it("a UTF-8 byte order mark is named, not shown as an invisible character", () => {
    const bom = join(dir, "bom.tsv");
    writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("1 2\n")]));
    const r = runIdx(["build", bom, "-o", join(dir, "bom.idx")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("byte order mark");
    expect(r.stderr).not.toContain("\ufeff");
  });

  it("a long bad key on the command line or on stdin is cut short", () => {
    const arg = runIdx(["get", index, "7".repeat(100_000)]);
    expect(arg.status).toBe(2);
    expect(arg.stderr.length).toBeLessThan(400);
    const stdin = runIdx(["get", index], { input: `1\n${"z".repeat(50_000)}\n` });
    expect(stdin.status).toBe(2);
    expect(stdin.stderr.length).toBeLessThan(400);
  });
});

describe("one exit status per meaning, whatever the command", () => {
  it("a file that is not an index: 2 everywhere, with the same message (verify included)", () => {
    const messages = new Set<string>();
    for (const args of [["get", notes, "1"], ["info", notes], ["verify", notes], ["dump", notes], ["get", notes]]) {
      const r = runIdx(args, { input: "1\n" });
      expect(r.status, args.join(" ")).toBe(2);
      expectPlainError(r);
      messages.add(r.stderr.split("\n")[0]);
    }
    expect(messages.size).toBe(1);
    for (const args of [["set", notes, "1", "2"], ["del", notes, "1"], ["compact", notes], ["cp", notes, join(dir, "cp-out.idx")]]) {
      const r = runIdx(args);
      expect(r.status, args.join(" ")).toBe(2);
      expectPlainError(r);
    }
  });

  it("a missing file: 2 everywhere", () => {
    const missing = join(dir, "nope.idx");
    for (const args of [["get", missing, "1"], ["info", missing], ["verify", missing], ["dump", missing], ["del", missing, "1"], ["compact", missing]]) {
      const r = runIdx(args);
      expect(r.status, args.join(" ")).toBe(2);
      expectPlainError(r);
    }
  });

  it("a damaged index: verify 1 with what to do, cp 1 (refused); the header is fine, so get answers", () => {
    const r = runIdx(["verify", damaged]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("damaged (1 problem)");
    expect(r.stderr).toContain("idx dump FILE > pairs.tsv");
    expect(runIdx(["get", damaged, "7"]).status).toBe(0);
    const cp = runIdx(["cp", damaged, join(dir, "from-damaged.idx")]);
    expect(cp.status).toBe(1);
    expectPlainError(cp);
  });

  it.runIf(ADDON)("a missing key: get and del exit 1; del names each key it could not delete", () => {
    const sub = makeTempDir("idx-del-");
    const f = join(sub, "d.idx");
    writeFileSync(f, readFileSync(index));
    const r = runIdx(["del", f, "1", "99999", "2", "88888"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`idx: ${f}: not there, so not deleted: 2 keys (99999, 88888)\n`);
    expect(runIdx(["get", f, "1"]).status).toBe(1);
  });
});

describe("the CLI speaks in flags, not API options, and counts in English", () => {
  const apiWords = /create: ?(true|false)|\{ ?wait|force: ?true|in the API|IdWriter\.open|options\./;

  it.runIf(ADDON)("a locked index names --wait; a missing one names idx build", async () => {
    const sub = makeTempDir("idx-flags-");
    const f = join(sub, "l.idx");
    await build([[1, 1]], f);
    const w = IdWriter.open(f);
    try {
      const r = runIdx(["set", f, "2", "2"]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("--wait");
      expect(r.stderr).not.toMatch(apiWords);
      const waited = runIdx(["set", f, "2", "2", "--wait", "150"]);
      expect(waited.status).toBe(2);
      expect(waited.stderr).toContain("Waited 150 ms; try again later.");
      expect(waited.stderr).not.toContain("run this with --wait");
    } finally {
      w.close();
    }
    for (const args of [["del", join(sub, "missing.idx"), "1"], ["compact", join(sub, "missing.idx")]]) {
      const r = runIdx(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("idx build");
      expect(r.stderr).not.toMatch(apiWords);
    }
    const notIndex = runIdx(["build", pairs, "-o", notes]);
    expect(notIndex.stderr).not.toMatch(apiWords);
  });

  it("build takes --wait as its help says; --wait with no number is a usage error", () => {
    expect(runIdx(["build", "--help"]).stdout).toContain("--wait MS");
    expect(runIdx(["build", pairs, "-o", join(dir, "w.idx"), "--wait", "100", "-q"]).status).toBe(0);
    const bad = runIdx(["build", pairs, "-o", join(dir, "w.idx"), "--wait", "soon"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--wait takes a number of milliseconds");
  });

  it("1 entry, 1 pair, 1 problem: never '1 entries'", () => {
    const one = join(dir, "one.tsv");
    writeFileSync(one, "5 6\n");
    const oneIdx = join(dir, "one.idx");
    const b = runIdx(["build", one, "-o", oneIdx]);
    expect(b.stderr).toContain("1 entry from 1 pair,");
    expect(runIdx(["verify", oneIdx]).stdout).toContain("1 entry,");
    const info = runIdx(["info", oneIdx]).stdout;
    expect(info).not.toMatch(/\b1 (entries|pairs|slots|bytes|problems)\b/);
    for (const r of [b.stderr, runIdx(["verify", oneIdx]).stdout, info]) expect(r).not.toMatch(/\b1 entries\b/);
  });
});

describe("dump", () => {
  it("prints every entry once; build of it (text or --binary) gives the same index, byte for byte", async () => {
    const sub = makeTempDir("idx-dump-");
    const text = runIdx(["dump", index]).stdout;
    const lines = text.trimEnd().split("\n");
    expect(lines.length).toBe(5000);
    expect(new Set(lines).size).toBe(5000);
    const textFile = join(sub, "dump.tsv");
    writeFileSync(textFile, text);
    const fromText = join(sub, "from-text.idx");
    expect(runIdx(["build", textFile, "-o", fromText, "-q"]).status).toBe(0);
    expect(readFileSync(fromText).equals(readFileSync(index))).toBe(true);
    const bin = spawnSync(process.execPath, [BIN, "dump", index, "--binary"]);
    expect(bin.stdout.length).toBe(5000 * 8);
    const binFile = join(sub, "dump.bin");
    writeFileSync(binFile, bin.stdout);
    const fromBin = join(sub, "from-bin.idx");
    expect(runIdx(["build", binFile, "-o", fromBin, "--binary", "-q"]).status).toBe(0);
    expect(readFileSync(fromBin).equals(readFileSync(index))).toBe(true);
  });

  it("the addon's formatting and the JS twin print the same bytes", () => {
    const native = runIdx(["dump", index]).stdout;
    const js = runIdx(["dump", index], { env: { IDX_NO_NATIVE: "1" } }).stdout;
    expect(js).toBe(native);
  });

  it("binary input whose length is not a multiple of 8 is refused with what was left over", () => {
    const bin = join(dir, "odd.bin");
    writeFileSync(bin, Buffer.alloc(8 * 3 + 5));
    const r = runIdx(["build", bin, "-o", join(dir, "odd.idx"), "--binary"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("5 bytes left over");
  });
});

describe.runIf(ADDON)("idx cp deploys under live readers", () => {
  it("copies, verifies, and the target's open reader follows to the copy at its next lookup", async () => {
    const sub = makeTempDir("idx-cp-");
    const target = join(sub, "live.idx");
    await build([[1, 100]], target);
    const ix = IdIndex.open(target);
    expect(ix.get(1)).toBe(100);
    const r = runIdx(["cp", index, target]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(target).equals(readFileSync(index))).toBe(true);
    expect(ix.get(1)).toBe(3);
    expect(ix.size).toBe(5000);
    ix.close();
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("keeps the target's mode, and replaces a read-only target the process may not write", async () => {
    const sub = makeTempDir("idx-cp-mode-");
    const target = join(sub, "ro.idx");
    await build([[1, 1]], target);
    chmodSync(target, 0o444);
    expect(runIdx(["cp", index, target]).status).toBe(0);
    expect(statSync(target).mode & 0o777).toBe(0o444);
  });
});

/** idx ARGS with stdin and stdout given to a shell: `idx ARGS < STDIN`, or a pipeline on stdin. */
function viaShell(args: string[], stdinRedirect: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("sh", ["-c", `${stdinRedirect} "$0" "$@"`, process.execPath, BIN, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("a second hostile pass: targets that are not files, stdin that is not input, lines that never end", () => {
  it("refuses, at once, to build over a named pipe or a device (through a symlink too), unless --force", () => {
    const sub = makeTempDir("idx-special-");
    const fifo = join(sub, "pipe.idx");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const r = runIdx(["build", pairs, "-o", fifo]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("it is a named pipe), so it was not replaced");
    expectPlainError(r);
    const devnull = join(sub, "null.idx");
    symlinkSync("/dev/null", devnull);
    const d = runIdx(["build", pairs, "-o", devnull]);
    expect(d.status).toBe(2);
    expect(d.stderr).toContain("it is a character device");
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
    expect(runIdx(["cp", index, fifo]).status).toBe(2);
    expect(statSync(fifo).isFIFO()).toBe(true);
    // As an index to read or write: refused, not waited on.
    for (const args of [["get", fifo, "1"], ["get", fifo], ["info", fifo], ["verify", fifo], ["dump", fifo], ...(ADDON ? [["set", fifo, "1", "1"]] : []), ["cp", fifo, join(sub, "x.idx")]]) {
      const r = runIdx(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("it is not a regular file");
    }
  });

  it("a build through a symlink replaces the file it names and keeps the link, which is not left retired", async () => {
    const sub = makeTempDir("idx-link-");
    const real = join(sub, "v1.idx");
    const link = join(sub, "current.idx");
    await build([[1, 1]], real);
    symlinkSync("v1.idx", link);
    const reader = IdIndex.open(real);
    expect(runIdx(["build", pairs, "-o", link, "-q"]).status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real).equals(readFileSync(index))).toBe(true);
    if (ADDON) expect(reader.get(1)).toBe(3); // the reader of the real path followed (a copy follows on a timer)
    reader.close();
    expect(runIdx(["verify", real]).stdout).not.toContain("retired");
    expect(tempFilesIn(sub)).toEqual([]);
  });

  it("a build reading a named pipe nobody writes stops on SIGINT and SIGTERM (130, 143), the target untouched", async () => {
    const sub = makeTempDir("idx-fifo-in-");
    const fifo = join(sub, "pairs.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const target = join(sub, "t.idx");
    writeFileSync(target, readFileSync(index));
    for (const [signal, status] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const child = spawn(process.execPath, [BIN, "build", fifo, "-o", target], { stdio: ["ignore", "ignore", "pipe"] });
      await new Promise((resolve) => setTimeout(resolve, 500));
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => { child.kill("SIGKILL"); resolve(null); }, 5000);
        child.on("exit", (c) => { clearTimeout(timer); resolve(c); });
      });
      expect(code, signal).toBe(status);
    }
    expect(readFileSync(target).equals(readFileSync(index))).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
    // And it reads one that is written: <(cmd) in a shell is such a pipe.
    const writer = spawn("sh", ["-c", `printf '1 2\\n' > "${fifo}"`]);
    expect(runIdx(["build", fifo, "-o", target, "-q"]).status).toBe(0);
    await new Promise((resolve) => writer.on("exit", resolve));
    expect(new Map(IdIndex.open(target))).toEqual(new Map([[1, 2]]));
  });

  it("stdin that is a directory is an error, not an empty input: the index is untouched", () => {
    const sub = makeTempDir("idx-stdin-dir-");
    const live = join(sub, "live.idx");
    writeFileSync(live, readFileSync(index));
    for (const args of [["build", "-", "-o", live], ["put", live, "-"], ["get", live]]) {
      const r = viaShell(args, `exec < "${sub}";`);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("is a directory (EISDIR)");
      expect(r.stdout).toBe("");
    }
    expect(readFileSync(live).equals(readFileSync(index))).toBe(true);
  });

  it("stdin that is the output (build) or the index (put) is refused, as the same file by path is", () => {
    const sub = makeTempDir("idx-stdin-self-");
    const text = join(sub, "pairs.txt");
    writeFileSync(text, "1 2\n");
    const b = viaShell(["build", "-", "-o", text, "--force"], `exec < "${text}";`);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain("the input <stdin> is the output itself");
    expect(readFileSync(text, "utf8")).toBe("1 2\n");
    const live = join(sub, "live.idx");
    writeFileSync(live, readFileSync(index));
    const p = viaShell(["put", live, "-", "--binary"], `exec < "${live}";`);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain("the input <stdin> is the output itself");
    expect(readFileSync(live).equals(readFileSync(index))).toBe(true);
  });

  it("get: a key line over 1024 bytes is an error however the pipe cuts it, so output line i answers input line i", () => {
    const zeros = "0".repeat(2000);
    const split = viaShell(["get", index], `(printf '%s' ${zeros}; sleep 0.3; printf '1\\n') |`);
    const whole = viaShell(["get", index], `printf '%s1\\n' ${zeros} |`);
    for (const r of [split, whole]) {
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("<stdin>:1: the line is over 1024 bytes long");
      expectPlainError(r as never);
    }
  });

  it("build: a line that has not ended after 1 MiB is refused at once (memory stays bounded: /dev/zero, a huge line)", () => {
    const zero = runIdx(["build", "/dev/zero", "-o", join(dir, "zero.idx")]);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain("/dev/zero:1: the line holds binary data (byte 0x00 at column 1)");
    const long = join(dir, "long.txt");
    writeFileSync(long, `1 2\n${"7".repeat(3 << 20)} 2\n`);
    const r = runIdx(["build", long, "-o", join(dir, "long.idx")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("long.txt:2: the line is over 1048576 bytes long");
    expect(r.stderr.length).toBeLessThan(600);
    const piped = viaShell(["build", "-", "-o", join(dir, "long.idx")], `exec < "${long}";`);
    expect(piped.stderr).toContain("<stdin>:2: the line is over 1048576 bytes long");
    const utf16 = join(dir, "utf16.txt");
    writeFileSync(utf16, Buffer.from("\ufeff1 2\n", "utf16le"));
    expect(runIdx(["build", utf16, "-o", join(dir, "u.idx")]).stderr).toContain("UTF-16 byte order mark");
  });

  it("an argument like -1 stays in its place: the key is blamed, and --wait -5 is a bad number, not a missing one", () => {
    const r = runIdx(["set", index, "-1", "5"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('key "-1" is negative');
    const w = runIdx(["set", index, "1", "1", "--wait", "-5"]);
    expect(w.status).toBe(2);
    expect(w.stderr).toContain('--wait takes a number of milliseconds, not "-5"');
  });

  it("an unknown command is quoted, cut short and escaped, never sent raw to the terminal", () => {
    const r = runIdx([`bogus\x1b[31m${"z".repeat(5000)}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain("\x1b");
    expect(r.stderr).toContain("\\u001b[31m");
    expect(r.stderr.length).toBeLessThan(200);
  });

  it("a truncated index is damage for cp as for verify (exit 1), and verify does not advise a dump that cannot read it", () => {
    const cut = join(dir, "cut.idx");
    writeFileSync(cut, readFileSync(index).subarray(0, 20000));
    const v = runIdx(["verify", cut]);
    expect(v.status).toBe(1);
    expect(v.stderr).toContain("at byte 0: is truncated");
    expect(v.stderr).not.toContain("idx dump FILE");
    expect(runIdx(["dump", cut]).status).toBe(2);
    expect(runIdx(["cp", cut, join(dir, "cut-copy.idx")]).status).toBe(1);
  });

  it.runIf(ADDON)("put that must grow grows once, first: a growth the disk refuses changes nothing, and names the index", () => {
    const sub = makeTempDir("idx-put-full-");
    const live = join(sub, "live.idx");
    writeFileSync(live, readFileSync(index));
    const before = readFileSync(live);
    const more = join(sub, "more.tsv");
    // Fewer than 4096 pairs: applied in place, not merged into a new file.
    writeFileSync(more, Array.from({ length: 4000 }, (_, i) => `${100000 + i}\t1`).join("\n") + "\n");
    // A file size limit (EFBIG, with SIGXFSZ ignored) just above the index: the growth cannot be written.
    const limitKb = Math.ceil(before.length / 1024) + 4;
    const r = spawnSync("bash", ["-c", `trap '' XFSZ; ulimit -f ${limitKb}; exec "$0" "$@"`, process.execPath, BIN, "put", live, more], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${live}: cannot write the new index`);
    expect(readFileSync(live).equals(before)).toBe(true);
    expect(tempFilesIn(sub)).toEqual([]);
  });
});
