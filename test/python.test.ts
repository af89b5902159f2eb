/**
 * The Python package (python/, PyPI name idxmap): its pytest suite, run by
 * scripts/python-test.sh in a virtualenv with numpy and in one without (with its C extension, and
 * without numpy also as the pure package), against this build's dist/ for the cross tests. Fails when the script fails. Run once, in the pass with the addon: the
 * cross tests drive a Node IdWriter, which needs it, and the Python side is the same either way.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, requireFreshBuild, runIdx } from "./helpers/cli";

const TIMEOUT_MS = 15 * 60_000; // virtualenvs created on a first run, then three test runs

/** Runs a command without blocking this worker's event loop (vitest talks to it meanwhile). */
function run(command: string, args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, output }));
  });
}

describe.runIf(!process.env.IDX_NO_NATIVE)("the Python package idxmap", () => {
  it("passes its tests with numpy and without it, with its C extension and without (scripts/python-test.sh)", async () => {
    requireFreshBuild();
    const { status, output } = await run("bash", [join(ROOT, "scripts", "python-test.sh")]);
    const tail = output.split("\n").filter((l) => !l.startsWith("WARNING: ")).slice(-60).join("\n");
    expect(status, tail).toBe(0);
    expect(output).toMatch(/with-numpy:native took/);
    expect(output).toMatch(/without-numpy:native took/);
    expect(output).toMatch(/without-numpy:pure took/);
  }, TIMEOUT_MS);
});

describe("the Python extension's copies of the addon's plain C (python/src/idxmap/_native)", () => {
  // idxmap._native compiles its own copies of the format's numbers and the batch probe loops;
  // a change here is a change there (python/tests/test_native.py checks the same).
  it.each(["format.h", "probe.h", "sort.h", "stores.h"])("%s is byte-identical to native/'s", (name) => {
    const ours = readFileSync(join(ROOT, "native", name));
    const theirs = readFileSync(join(ROOT, "python", "src", "idxmap", "_native", name));
    expect(Buffer.compare(theirs, ours), `copy native/${name} to python/src/idxmap/_native/`).toBe(0);
  });
});

describe("the Python package's version 3 golden files (python/tests/data/v3)", () => {
  // idxmap's builder must make these bytes (test_v3.py); idx must make them too: each NAME.idx
  // is idx build of NAME.tsv, at the narrowest widths that hold its numbers (spec §16.5).
  it.each(["k64v32", "k32v64", "k64v64"])("idx build of %s.tsv is the golden NAME.idx, byte for byte", (name) => {
    requireFreshBuild();
    const dir = mkdtempSync(join(tmpdir(), "idx-golden-"));
    try {
      const data = join(ROOT, "python", "tests", "data", "v3");
      const out = join(dir, `${name}.idx`);
      const r = runIdx(["build", join(data, `${name}.tsv`), "-o", out, "-q"]);
      expect(r.status, r.stderr).toBe(0);
      expect(Buffer.compare(readFileSync(out), readFileSync(join(data, `${name}.idx`)))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
