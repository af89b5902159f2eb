/**
 * The lookups stay inlined (issue 18): V8 inlines IdIndex.get, getOr and has, with the probe,
 * into the caller's loop only while they fit its inlining budget, and a lookup that is not
 * inlined, or a loop that deoptimizes, costs 12% or more (a 4-slot unrolled probe fell out of
 * inlining; the 64-bit get, before it was made smaller, was a call, its number key boxed, at
 * 2.6x the C floor). This reads V8's own trace of a child process that compiles each loop after
 * the lookup was optimized on its own, the case that costs the most budget, for a file of each
 * key width: a change that grows a lookup past the budget, or near it, or makes a loop
 * deoptimize, fails here rather than in a benchmark nobody runs.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../src/index";
import { DIST_INDEX, requireFreshBuild } from "./helpers/cli";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

/** V8's budget of inlined bytecode for one optimized function, and its factor on a candidate (js-inlining-heuristic.cc). */
const CUMULATIVE_BUDGET = 920;
const RESERVE_FACTOR = 1.2;
/** What a lookup must leave of the budget for the user's own loop to inline. */
const HEADROOM = 50;

let dir: string;
beforeAll(() => {
  requireFreshBuild();
  dir = makeTempDir("idx-inlining-");
});
afterAll(removeTempDirs);

interface Compile {
  lines: string[];
}

/** Each compile of `fn` in the trace: the lines between V8's "compiling method" and "completed compiling". */
function compilesOf(trace: string[], fn: string): Compile[] {
  const out: Compile[] = [];
  let current: string[] | null = null;
  for (const line of trace) {
    if (line.includes(`<JSFunction ${fn} (sfi`) && line.startsWith("[compiling method")) current = [];
    else if (current && line.startsWith("[completed compiling") && line.includes(`<JSFunction ${fn} (sfi`)) {
      out.push({ lines: current });
      current = null;
    } else if (current) current.push(line);
  }
  return out;
}

/**
 * Each layout's probe function, which V8 must inline with each lookup. "in windows": the
 * reader's get for files past 2^28 slots (lookups.ts makeWindowedGet), here over windows of
 * 2^16 slots (IDX_WINDOW_SLOTS, src/os/mapping.ts).
 */
const layouts: [string, 32 | 64, 32 | 64, string][] = [
  ["32/32", 32, 32, "findIn"],
  ["32/32 in windows", 32, 32, "findWindowed"],
  ["64/32", 64, 32, "scan64"],
  ["64/64", 64, 64, "scan64"],
  ["32/64", 32, 64, "scan32"],
];

describe.runIf(ADDON)("V8 inlines get, getOr and has, with the probe, into a caller's loop, within its budget, and the loop does not deoptimize", () => {
  for (const [name, keyBits, valueBits, probe] of layouts) for (const shared of [false, true]) {
    // shared: each loop has also called a second reader's lookup (lookups.ts makeGet: V8 cannot
    // fold the reader into the loop, and inlines the lookup for whichever reader it is given).
    it(`a ${name} file${shared ? ", loops shared by two readers" : ""}: per --trace-turbo-inlining, --trace-opt and --trace-deopt`, async () => {
      const path = join(dir, `inline-${name.replace(/\W+/g, "-")}${shared ? "-shared" : ""}.idx`);
      const n = 100_000;
      const keys32 = new Uint32Array(n).map((_, i) => Math.imul(i, 2654435761) >>> 0);
      const keys = keyBits === 64 ? BigUint64Array.from(keys32, (k, i) => BigInt(k) * 4099n + BigInt(i)) : keys32;
      const values = valueBits === 64 ? BigUint64Array.from(keys32, (k) => BigInt(k) << 30n) : keys32.map((k) => k ^ 0x9e3779b9);
      await build({ keys, values } as never, path, { sync: false, keyBits, valueBits });
      const child = join(__dirname, "helpers", "inlining-child.js");
      const flags = ["--allow-natives-syntax", "--trace-turbo-inlining", "--trace-opt", "--trace-deopt", "--no-use-osr", "--no-concurrent-recompilation"];
      const env = name.endsWith("in windows") ? { ...process.env, IDX_WINDOW_SLOTS: String(2 ** 16) } : process.env;
      const r = spawnSync(process.execPath, [...flags, child, DIST_INDEX, path, ...(shared ? ["shared"] : [])], { encoding: "utf8", maxBuffer: 256 << 20, env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`--- done ${n} `));
      const trace = r.stdout.split("\n");
      const used: Record<string, number> = {};
      for (const [loop, lookup] of [["hotGetLoop", "get"], ["hotGetOrLoop", "getOr"], ["hotHasLoop", "has"]]) {
        const compiles = compilesOf(trace, loop);
        expect(compiles.length, `${loop} compiled`).toBeGreaterThan(0);
        for (const { lines } of compiles) {
          const text = lines.join("\n");
          const inlined = (callee: string) => new RegExp(`^Inlining .*<SharedFunctionInfo ${callee}>\\} into .*<SharedFunctionInfo ${loop}>\\}`, "m").test(text);
          expect(inlined(lookup), `${lookup} inlined into ${loop}`).toBe(true);
          expect(inlined(probe), `${probe} inlined into ${loop}`).toBe(true);
          // The hard case happened (the lookup had optimized code of its own) and left headroom.
          // Shared, V8 inlines the lookup as a small function of its own feedback, not its code.
          if (shared) continue;
          const m = new RegExp(`<SharedFunctionInfo ${lookup}>\\}, bytecode size: (\\d+), existing opt code's inlined bytecode size: (\\d+)`).exec(text);
          expect(m, `${lookup} was optimized on its own before ${loop}`).not.toBeNull();
          const cost = (Number(m![1]) + Number(m![2])) * RESERVE_FACTOR;
          used[lookup] = Math.round(cost);
          expect(cost, `${lookup}'s share of ${loop}'s inlining budget`).toBeLessThanOrEqual(CUMULATIVE_BUDGET - HEADROOM);
        }
        // Not deoptimized after: no bailout of the loop, no code of it marked for deoptimization.
        const last = trace.findLastIndex((l) => l.startsWith("[completed compiling") && l.includes(`<JSFunction ${loop} (sfi`));
        const done = trace.findIndex((l) => l.startsWith("DebugPrint:") && l.includes("--- done "));
        expect(done).toBeGreaterThan(last);
        const deopts = trace.slice(last, done).filter((l) => /bailout|deoptimiz/i.test(l) && l.includes(`${loop}`));
        expect(deopts, `deoptimizations of ${loop}`).toEqual([]);
      }
      // The budget each lookup took, for the record in the test's output.
      if (!shared) console.log(`${name}: inlining budget taken of ${CUMULATIVE_BUDGET}: ${JSON.stringify(used)}`);
    });
  }
});
