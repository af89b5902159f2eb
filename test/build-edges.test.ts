/**
 * The edges of a build's input and resources (issue 17): standard input that is closed or
 * /dev/null is no input at all.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, build, buildFromText } from "../src/index";
import { BIN, DIST_INDEX, expectPlainError, requireFreshBuild, runIdx } from "./helpers/cli";
import { makeTempDir, removeTempDirs, tempFilesIn } from "./helpers/tmp";

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
    const put = copyOfLive("empty-put.idx");
    expect(idxWithStdin(["put", put, "-", "-q"], `exec < "${empty}";`).status).toBe(0);
    expect(new Map(IdIndex.open(put))).toEqual(new Map([[1, 10], [2, 20], [3, 30]]));
  });
});

describe("buildFromText of an empty file by path", () => {
  it("builds an empty index (an explicit empty input is not closed stdin)", async () => {
    const empty = join(dir, "empty-api.txt");
    writeFileSync(empty, "");
    const out = join(dir, "empty-api.idx");
    expect((await buildFromText(empty, out, { sync: false })).count).toBe(0);
  });
});
