/**
 * The package as npm users get it (issue 11): the prebuilt addons in prebuilds/ are current with
 * native/ and fit their platforms, and the packed tarball installs and works under Node 20, 22
 * and 24 with no compiler on PATH (scripts/pack-test.js, which this file runs: a minute or two).
 *
 * Which prebuilt binaries are run, and where:
 *   linux-x64          run here: Node 20, 22 and 24, installed from the tarball (pack-test)
 *   linux-arm64        run here: Node 20 for arm64 under qemu-aarch64-static (pack-test; skipped,
 *                      and said, where qemu-user-static or the arm64 C libraries are missing)
 *   linux-x64-musl     built; dlopen()ed against Debian's musl 1.2.3 by scripts/pack-test-musl.sh
 *                      (by hand); no musl Node was at hand to run it
 *   linux-arm64-musl   built only
 *   darwin-x64, -arm64 built only (cross-compiled by zig); their Mach-O headers are checked here
 */
import { cpSync, appendFileSync, readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

const ROOT = join(__dirname, "..");
const require_ = createRequire(__filename);
interface ElfInfo { machine: string; needed: string[]; versions: string[]; newestGlibc: string | null }
interface MachoInfo { cpu: string; filetype: string; minos: string | null; signed: boolean }
const prebuild = require_("../scripts/prebuild.js") as {
  TARGETS: { tag: string; zig: string }[];
  staleness(base?: string): string[];
  readSources(file?: string): { binaries: Record<string, { sha256: string; bytes: number; target: string }> };
  elfInfo(file: string): ElfInfo | null;
  machoInfo(file: string): MachoInfo | null;
};

const REBUILD = "Rebuild them: npm install && npm run build-prebuilds (zig cc; see scripts/prebuild.js), then commit prebuilds/.";

afterAll(() => removeTempDirs());

describe("prebuilds/", () => {
  it("was built from native/ as it is now (prebuilds/SOURCES), and holds the binaries SOURCES lists", () => {
    const problems = prebuild.staleness();
    expect(problems, `prebuilds/ is stale: ${problems.join("; ")}. ${REBUILD}`).toEqual([]);
  });

  it("the staleness check notices an edited source and a replaced binary", () => {
    const copy = makeTempDir("idx-prebuilds-");
    cpSync(join(ROOT, "native"), join(copy, "native"), { recursive: true });
    cpSync(join(ROOT, "prebuilds"), join(copy, "prebuilds"), { recursive: true });
    expect(prebuild.staleness(copy)).toEqual([]);
    appendFileSync(join(copy, "native", "idx.h"), "\n");
    expect(prebuild.staleness(copy).join("; ")).toMatch(/native sources changed.*native\/idx\.h/);
    appendFileSync(join(copy, "prebuilds", "linux-x64", "idx.node"), "x");
    expect(prebuild.staleness(copy).join("; ")).toMatch(/prebuilds\/linux-x64\/idx\.node is not the binary SOURCES records/);
  });

  it("has one binary per target, each for its CPU and C library, Linux ones needing glibc 2.17 at most", () => {
    const recorded = prebuild.readSources();
    expect(Object.keys(recorded.binaries).sort()).toEqual(prebuild.TARGETS.map((t) => t.tag).sort());
    const facts: Record<string, string> = {};
    for (const { tag } of prebuild.TARGETS) {
      const file = join(ROOT, "prebuilds", tag, "idx.node");
      const [os, arch, libc] = tag.split("-");
      if (os === "linux") {
        const elf = prebuild.elfInfo(file)!;
        expect(elf, tag).not.toBeNull();
        expect(elf.machine, tag).toBe(arch === "x64" ? "x86_64" : "aarch64");
        if (libc === "musl") {
          // musl's loader answers libc.so (and libc.musl-*.so.1) itself.
          expect(elf.needed, tag).toEqual(["libc.so"]);
          expect(elf.versions, tag).toEqual([]);
        } else {
          for (const lib of elf.needed) expect(["libc.so.6", "libpthread.so.0", "libm.so.6", "libdl.so.2"], tag).toContain(lib);
          const [major, minor] = (elf.newestGlibc ?? "0.0").split(".").map(Number);
          expect(major * 1000 + minor, `${tag} needs GLIBC_${elf.newestGlibc}`).toBeLessThanOrEqual(2017);
          expect(elf.versions.every((v) => v.startsWith("GLIBC_")), tag).toBe(true);
        }
        facts[tag] = `${elf.machine}, ${elf.needed.join(" ")}${elf.newestGlibc ? `, newest GLIBC_${elf.newestGlibc}` : ""}`;
      } else {
        const macho = prebuild.machoInfo(file)!;
        expect(macho, tag).not.toBeNull();
        expect(macho.cpu, tag).toBe(arch === "x64" ? "x86_64" : "arm64");
        expect(["dylib", "bundle"], tag).toContain(macho.filetype);
        expect(macho.minos, tag).toBe("11.0");
        // Apple silicon runs no unsigned code: zig signs ad hoc.
        if (arch === "arm64") expect(macho.signed, tag).toBe(true);
        facts[tag] = `Mach-O ${macho.filetype} ${macho.cpu}, macOS ${macho.minos}+${macho.signed ? ", signed ad hoc" : ""}`;
      }
    }
    console.log(`prebuilds: ${Object.entries(facts).map(([t, f]) => `\n  ${t}: ${f}`).join("")}`);
  });
});

/**
 * tsc --strict over the installed package, without @types/node: these errors come from the
 * declarations src/ emits (Node types reached from the public API), which another change is
 * fixing. Until it lands they are reported, not failed on; any other error fails. Empty this
 * list once it is in.
 */
const TSC_ERRORS_AWAITING_SRC: RegExp[] = [
  /^node_modules\/idxmap\/dist\/core\/encode\.d\.ts\(\d+,\d+\): error TS2580: Cannot find name 'Buffer'/,
  /^node_modules\/idxmap\/dist\/os\/mapping\.d\.ts\(\d+,\d+\): error TS2307: Cannot find module 'node:fs'/,
];

interface Smoke {
  node: string; arch: string; access: string; addon: string[];
  openGetMedianMs: number; openGetMinMs: number; openGetWorstRunMedianMs: number;
}
interface PackResult {
  ok: boolean;
  failures: string[];
  tarball: { file: string; size: number; unpackedSize: number; files: string[] };
  nodes: Record<string, { node: string; smoke: Smoke; esm: { get: number; access: string }; cli: { get: string }; tsc: { ok: boolean; errors: string[] } }>;
  arm64?: { skipped?: string; node?: string; smoke?: Smoke };
  fallback?: {
    noCompiler: { exit: number; said: string[]; smoke: Smoke };
    compiled: { skipped?: string; addon?: string; access?: string };
  };
}

// Once, in the pass with the addon: what it tests (an install from the tarball, in other
// processes) is the same in both passes, and it takes a minute or two.
describe.runIf(!process.env.IDX_NO_NATIVE)("the packed tarball (scripts/pack-test.js)", () => {
  let result: PackResult;
  let output = "";

  beforeAll(async () => {
    if (!existsSync(join(ROOT, "dist", "idx.mjs"))) throw new Error("dist/ is not built: npm run build (npm test does)");
    // Asynchronously: a worker that blocks its event loop for a minute times out vitest's RPC.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done, fail) => {
      const child = spawn(process.execPath, [join(ROOT, "scripts", "pack-test.js")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", fail);
      child.on("close", (status) => done({ status, stdout, stderr }));
    });
    output = r.stderr;
    const line = r.stdout.split("\n").find((l) => l.startsWith("pack-test: {"));
    if (!line) throw new Error(`scripts/pack-test.js gave no result (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    result = JSON.parse(line.slice("pack-test: ".length)) as PackResult;
    // Its log, less the tsc errors it fails on alone: the test below reports those its own way.
    console.log(output.replace(/^pack-test: FAILED Node \d+: tsc --strict[^\n]*\n(  [^\n]*\n)*/gm, ""));
  }, 900_000);

  it("holds what a user runs and nothing else", () => {
    const files = result.tarball.files;
    console.log(`${result.tarball.file}: ${files.length} files, ${result.tarball.size} bytes packed, ${result.tarball.unpackedSize} unpacked`);
    for (const f of [
      "LICENSE", "README.md", "package.json", "bin/idx.js", "binding.gyp", "scripts/install.js", "spec/FORMAT.md",
      "dist/idx.js", "dist/idx.mjs", "dist/idx.d.mts", "dist/index.d.ts", "dist/cli/main.js", "prebuilds/SOURCES",
      ...prebuild.TARGETS.map((t) => `prebuilds/${t.tag}/idx.node`),
    ]) expect(files, f).toContain(f);
    const natives = readFileSync(join(ROOT, "binding.gyp"), "utf8").match(/native\/[\w.]+/g)!;
    for (const f of natives) expect(files, f).toContain(f);
    for (const f of files) {
      expect(f, "only these folders").toMatch(/^(LICENSE|README\.md|package\.json|binding\.gyp|bin\/|dist\/|native\/|prebuilds\/|scripts\/install\.js$|spec\/FORMAT\.md$)/);
    }
    // Every script in dist/ is the bundle, its ES entry, or a module the CLI loads.
    const reached = new Set<string>();
    const walk = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const m of readFileSync(join(ROOT, file), "utf8").matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
        let target = join(dirname(file), m[1]);
        if (!target.endsWith(".js") && !target.endsWith(".json")) target += ".js";
        if (target.startsWith("dist/") || target.startsWith("bin/")) walk(target);
      }
    };
    walk("bin/idx.js");
    const extra = files.filter((f) => /\.m?js$/.test(f) && f.startsWith("dist/") && !reached.has(f) && f !== "dist/idx.js" && f !== "dist/idx.mjs");
    expect(extra, "scripts in dist/ that nothing runs").toEqual([]);
  });

  for (const major of ["20", "22", "24"]) {
    it(`installs with only node and npm on PATH under Node ${major}: the CLI, require, import, the prebuilt addon, open + get`, () => {
      const n = result.nodes[major];
      const failures = result.failures.filter((f) => f.startsWith(`Node ${major}:`) && !f.includes("tsc --strict"));
      expect(failures).toEqual([]);
      expect(n, `Node ${major} did not run: ${output}`).toBeDefined();
      expect(n.node.startsWith(`v${major}.`)).toBe(true);
      expect(n.cli.get).toBe("500");
      expect(n.smoke.access).toBe("mapped");
      expect(n.smoke.addon).toEqual(["node_modules/idxmap/prebuilds/linux-x64/idx.node"]);
      expect(n.esm).toEqual({ get: 40, access: "mapped", version: expect.any(String) });
      console.log(`Node ${n.node}: open + first get ${n.smoke.openGetMedianMs} ms (median of the best of 3 runs of 100; ` +
        `min ${n.smoke.openGetMinMs}, worst run ${n.smoke.openGetWorstRunMedianMs})`);
      expect(n.smoke.openGetMedianMs).toBeGreaterThan(0);
    });
  }

  it("type-checks in a strict TypeScript project without @types/node (require and import)", () => {
    for (const [major, n] of Object.entries(result.nodes)) {
      const unexpected = n.tsc.errors.filter((e) => /error TS/.test(e) && !TSC_ERRORS_AWAITING_SRC.some((re) => re.test(e)));
      const known = n.tsc.errors.filter((e) => TSC_ERRORS_AWAITING_SRC.some((re) => re.test(e)));
      if (known.length > 0) console.log(`Node ${major}: tsc, errors awaiting the src/ change:\n  ${known.join("\n  ")}`);
      expect(unexpected, `Node ${major}`).toEqual([]);
    }
  });

  it("runs the linux-arm64 binary under qemu with an arm64 Node (or says why not)", () => {
    expect(result.failures.filter((f) => f.startsWith("arm64"))).toEqual([]);
    const a = result.arm64!;
    if (a.skipped) {
      console.log(`linux-arm64 NOT run: ${a.skipped}`);
      return;
    }
    expect(a.smoke!.arch).toBe("arm64");
    expect(a.smoke!.access).toBe("mapped");
    expect(a.smoke!.addon).toEqual(["node_modules/idxmap/prebuilds/linux-arm64/idx.node"]);
    console.log(`linux-arm64 run under qemu, Node ${a.node} arm64: smoke passed`);
  });

  it("without a binary for the platform: one line and exit 0 with no compiler; compiled from source with one", () => {
    expect(result.failures.filter((f) => f.startsWith("fallback"))).toEqual([]);
    const f = result.fallback!;
    expect(f.noCompiler.exit).toBe(0);
    expect(f.noCompiler.said).toHaveLength(1);
    expect(f.noCompiler.said[0]).toMatch(/JavaScript paths.*npm rebuild idxmap/);
    expect(f.noCompiler.smoke.access).toBe("copied");
    if (f.compiled.skipped) console.log(`compile from source not tried: ${f.compiled.skipped}`);
    else expect(f.compiled.addon).toBe("node_modules/idxmap/build/Release/idx_native.node");
  });

  it("pack-test found nothing else wrong", () => {
    expect(result.failures.filter((f) => !f.includes("tsc --strict"))).toEqual([]);
  });
});
