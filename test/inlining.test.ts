/**
 * The get stays inlined (issue 18): V8 inlines IdIndex.get, getOr and has, with the probe, into
 * the caller's loop only while they fit its inlining budget, and a lookup that is not inlined,
 * or a loop that deoptimizes, costs 12% or more (a 4-slot unrolled probe fell out of inlining).
 * This reads V8's own trace of a child process: a change that grows the get past the budget,
 * or makes the loop deoptimize, fails here rather than in a benchmark nobody runs.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../src/index";
import { DIST_INDEX, requireFreshBuild } from "./helpers/cli";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
beforeAll(() => {
  requireFreshBuild();
  dir = makeTempDir("idx-inlining-");
});
afterAll(removeTempDirs);

describe.runIf(ADDON)("V8 inlines get, getOr and has, with the probe, into a caller's loop, and the loop does not deoptimize", () => {
  it("per --trace-turbo-inlining and --trace-deopt, after a warm-up", async () => {
    const path = join(dir, "inline.idx");
    const keys = new Uint32Array(200_000).map((_, i) => Math.imul(i, 2654435761) >>> 0);
    await build({ keys, values: keys.map((k) => k ^ 0x9e3779b9) }, path, { sync: false });
    const child = join(__dirname, "helpers", "inlining-child.js");
    const r = spawnSync(process.execPath, ["--trace-turbo-inlining", "--trace-deopt", child, DIST_INDEX, path], { encoding: "utf8", maxBuffer: 256 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    const inlined = (callee: string, caller: string) =>
      new RegExp(`Inlining .*<SharedFunctionInfo ${callee}>\\} into .*<SharedFunctionInfo ${caller}>`).test(out);
    for (const [callee, caller] of [["get", "hotGetLoop"], ["find", "hotGetLoop"], ["getOr", "hotGetOrLoop"], ["find", "hotGetOrLoop"], ["has", "hotHasLoop"]]) {
      expect(inlined(callee, caller), `${callee} inlined into ${caller}`).toBe(true);
    }
    // Between the markers: what V8 does at the process's end (it drops all code) is not a deopt.
    const after = out.slice(out.indexOf("--- measured from here ---"), out.indexOf("--- done"));
    expect(after.length).toBeGreaterThan(0);
    const deopts = after.split("\n").filter((line) => /bailout|deoptimiz/i.test(line) && /hot(Get|GetOr|Has)Loop/.test(line));
    expect(deopts, "deoptimizations of the loops after warm-up").toEqual([]);
    expect(out).toMatch(/--- done 200000 /);
  });
});
