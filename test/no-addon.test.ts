/**
 * Without the addon (no binary for the platform, install scripts not run; here IDX_NO_NATIVE):
 * reading, building, verifying, dumping and deploying work on the JavaScript paths, an open
 * reads the file into memory, and writing in place is refused with an error that says why and
 * how to get the addon. npm test runs every test file this way too; these are the checks of
 * what differs.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdIndex, IdWriter, build, verify } from "../src/index";
import { BIN, requireFreshBuild, runIdx } from "./helpers/cli";
import { errorOf } from "./helpers/errors";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
let index: string;

beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-no-addon-");
  index = join(dir, "x.idx");
  await build([[1, 2], [3, 4]], index, { sync: false });
});
afterAll(removeTempDirs);

describe.runIf(process.env.IDX_NO_NATIVE)("without the addon", () => {
  it("an open index is a copy read into memory, and info says so", () => {
    const ix = IdIndex.open(index);
    expect(ix.info().access).toBe("copied");
    expect(ix.get(3)).toBe(4);
    ix.close();
    expect(runIdx(["info", index]).stdout).toContain("copied into memory (no native addon)");
  });

  it("writing in place is refused with ERR_IDX_NO_ADDON, saying why and how to get the addon (API and CLI)", () => {
    const e = errorOf(() => IdWriter.open(index));
    expect(e.code).toBe("ERR_IDX_NO_ADDON");
    expect(e.message).toContain("needs idx's native addon");
    // Here the addon is off by choice: the way back is to unset the variable, not to rebuild.
    expect(e.message).toContain("IDX_NO_NATIVE is set, which turns the addon off: unset it.");
    const r = runIdx(["set", index, "5", "6"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("needs idx's native addon");
    expect(r.stderr).toContain("unset it to write in place");
  });

  it("building (over an existing index too), verifying, dumping and idx cp work", async () => {
    await build([[7, 8]], index, { sync: false });
    expect(verify(index).ok).toBe(true);
    expect(runIdx(["dump", index]).stdout).toBe("7\t8\n");
    const copy = join(dir, "copy.idx");
    expect(runIdx(["cp", index, copy]).status).toBe(0);
    expect(runIdx(["get", copy, "7"]).stdout).toBe("8\n");
  });
});

describe.runIf(!process.env.IDX_NO_NATIVE)("the one line on stderr when the addon is expected and missing", () => {
  it("is printed once per process by a process that finds no binary (the package copied without build/ and prebuilds/)", () => {
    const fs = require("node:fs") as typeof import("node:fs");
    const copy = makeTempDir("idx-no-binary-");
    for (const part of ["package.json", "dist", "bin"]) fs.cpSync(join(__dirname, "..", part), join(copy, part), { recursive: true });
    const r = spawnSync(process.execPath, [join(copy, "bin", "idx.js"), "info", index], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("copied into memory");
    const notes = r.stderr.split("\n").filter((l) => l.includes("native addon not available"));
    expect(notes.length).toBe(1);
    expect(notes[0]).toContain("using the JavaScript paths");
    // A writer there is refused with the way to get the addon.
    const w = spawnSync(process.execPath, [join(copy, "bin", "idx.js"), "set", index, "5", "6"], { encoding: "utf8" });
    expect(w.status).toBe(2);
    expect(w.stderr).toContain("Reading, building, verifying and dumping work without it");
    expect(w.stderr).toContain("npm rebuild idxmap");
    void BIN;
  });
});
