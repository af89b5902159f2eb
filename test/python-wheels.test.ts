/**
 * idxmap's prebuilt wheels (scripts/python-wheels.py, the fast part): the sdist and the six
 * cp39-abi3 wheels build from python/src/idxmap/_native and pass their static checks (tags,
 * WHEEL, RECORD, the binary's machine, libraries and glibc symbols, Mach-O minimum and signature),
 * and the linux x86-64 wheel installs into a fresh virtualenv with no compiler on the PATH and
 * runs on its extension. The full run (arm64 under qemu, every CPython 3.9+ here, python/tests
 * against the installed wheel, the sdist with and without a compiler) is by hand:
 * `python3 scripts/python-wheels.py all`.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

const TIMEOUT_MS = 10 * 60_000; // the sdist and pure wheel through setuptools, zig's first build of each libc
const SCRIPT = join(ROOT, "scripts", "python-wheels.py");

function run(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", [SCRIPT, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, output }));
  });
}

/** Runs Python with the script loaded as module `wheels`; returns what it printed. */
function withScript(code: string): string {
  const prelude = `import importlib.util, sys\nspec = importlib.util.spec_from_file_location("wheels", ${JSON.stringify(SCRIPT)})\n` +
    `wheels = sys.modules["wheels"] = importlib.util.module_from_spec(spec); spec.loader.exec_module(wheels)\n`;
  const r = spawnSync("python3", ["-c", prelude + code], { cwd: ROOT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe.runIf(!process.env.IDX_NO_NATIVE)("idxmap's wheels (scripts/python-wheels.py test)", () => {
  let out = "";
  let result = { status: null as number | null, output: "" };
  beforeAll(async () => {
    out = makeTempDir("idxmap-wheels-");
    result = await run(["test", "--out", out]);
  }, TIMEOUT_MS);
  afterAll(removeTempDirs);

  it("builds the sdist and one abi3 wheel per platform, each passing its static checks", () => {
    expect(result.status, result.output).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual([
      "idxmap-0.1.0-cp39-abi3-macosx_11_0_arm64.whl",
      "idxmap-0.1.0-cp39-abi3-macosx_11_0_x86_64.whl",
      "idxmap-0.1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
      "idxmap-0.1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
      "idxmap-0.1.0-cp39-abi3-musllinux_1_2_aarch64.whl",
      "idxmap-0.1.0-cp39-abi3-musllinux_1_2_x86_64.whl",
      "idxmap-0.1.0-py3-none-any.whl",
      "idxmap-0.1.0.tar.gz",
    ]);
    for (const wheel of files.filter((f) => f.includes("abi3"))) {
      expect(result.output).toMatch(new RegExp(`${wheel.replace(/\./g, "\\.")}: \\d+ bytes, .*; tags, WHEEL and RECORD checked`));
    }
    console.log(result.output);
  });

  it("installs the linux x86-64 wheel with no compiler on PATH, and its extension agrees with the pure path", () => {
    expect(result.status, result.output).toBe(0);
    expect(result.output).toMatch(/manylinux2014_x86_64\.whl\n +CPython 3\.\d+ x86-64 glibc: installed with no compiler on PATH, idxmap\._native loaded; .* byte for byte/);
  });

  it("says which wheels it only built or left to the full run, and why", () => {
    expect(result.output).toMatch(/macosx_11_0_arm64\.whl\n +built only: no macOS here/);
    expect(result.output).toMatch(/musllinux_1_2_aarch64\.whl\n +not run by `test` \(under qemu/);
    // Run where scripts/musl-python.sh has built a musl CPython, else built only, and said so.
    expect(result.output).toMatch(/musllinux_1_2_x86_64\.whl\n +(built only: no musl CPython|CPython 3\.\d+ x86_64 musl .*: installed with no compiler on PATH, idxmap\._native loaded)/);
  });

  describe("the static check refuses a wrong wheel", () => {
    it("whose binary is not the one RECORD lists", () => {
      expect(result.status, result.output).toBe(0);
      const said = withScript(`
import shutil, zipfile
from pathlib import Path
good = Path(${JSON.stringify(out)}) / "idxmap-0.1.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
bad = Path(${JSON.stringify(out)}) / "tampered" / good.name
bad.parent.mkdir()
with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
    for item in src.infolist():
        data = src.read(item)
        dst.writestr(item, data + b"\\0" if item.filename == wheels.EXTENSION_FILE else data)
try:
    wheels.check_wheel(bad, wheels.TARGETS[0])
except wheels.WheelError as e:
    print(e)
`);
      expect(said).toMatch(/RECORD's hash or size of idxmap\/_native\.abi3\.so is wrong/);
    });

    it("whose binary is for another libc or machine than its tag says", () => {
      expect(result.status, result.output).toBe(0);
      const said = withScript(`
import zipfile
from pathlib import Path
out = Path(${JSON.stringify(out)})
targets = {t.name: t for t in wheels.TARGETS}
def binary(name):
    with zipfile.ZipFile(next(out.glob(f"*{targets[name].platforms[0]}*.whl"))) as z:
        return z.read(wheels.EXTENSION_FILE)
print(wheels.binary_problems(binary("musllinux-x86_64"), targets["manylinux-x86_64"])[0])
print(wheels.binary_problems(binary("manylinux-x86_64"), targets["musllinux-x86_64"])[0])
print(wheels.binary_problems(binary("manylinux-aarch64"), targets["manylinux-x86_64"])[0])
print(wheels.binary_problems(binary("macosx-x86_64"), targets["macosx-arm64"])[0])
`).split("\n");
      expect(said[0]).toMatch(/needs \['libc\.so'\], outside manylinux2014's libraries/);
      expect(said[1]).toMatch(/not musl's libc\.so alone/);
      expect(said[2]).toMatch(/ELF machine aarch64, not x86_64/);
      expect(said[3]).toMatch(/CPU x86_64, not arm64/);
    });
  });
});
