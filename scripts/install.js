#!/usr/bin/env node
"use strict";
/**
 * npm's install step for idxmap. Never fails the install: without the addon idx runs its
 * JavaScript paths (src/os/native.ts), so the worst case is one line saying so.
 *
 * Installed from the registry (no src/ beside this folder):
 *   1. prebuilds/<platform>/idx.node loads here and its constants() match idx's: done, nothing
 *      compiled, nothing printed. That is every platform prebuilds/ has a binary for.
 *   2. otherwise compile native/ with node-gyp, found as npm finds it (npm_config_node_gyp);
 *      its output is kept in build/install.log, not printed.
 *   3. otherwise print one line and exit 0.
 * In a clone of the repository (src/ is there) native/ may differ from the prebuilt binaries,
 * so node-gyp builds build/Release/idx_native.node, which the loader prefers, with its output
 * shown; if that fails, the prebuilt binary is used as above.
 * IDX_BUILD_FROM_SOURCE=1 (or npm's older `--build-from-source`, which npm 11 warns is not one
 * of its options) compiles in every case.
 */
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const root = path.join(__dirname, "..");
const inRepo = fs.existsSync(path.join(root, "src", "os", "native.ts"));
const loaderFile = path.join(root, "dist", "os", "native.js");
const localBuild = path.join(root, "build", "Release", "idx_native.node");

/** The loader's own answer to "which prebuilds/ folder is this platform's", when dist/ is there. */
function platformTag() {
  if (fs.existsSync(loaderFile)) return require(loaderFile).platformTag();
  const machine = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch;
  const musl = process.platform === "linux" && fs.existsSync(`/lib/ld-musl-${machine}.so.1`);
  return `${process.platform}-${process.arch}${musl ? "-musl" : ""}`;
}

/**
 * Loads an addon in a child process (a binary for the wrong libc or OS may crash rather than
 * throw) and checks its constants against the loader's. Null when it is good, else why not.
 */
function check(file) {
  if (!fs.existsSync(file)) return { why: `no ${path.relative(root, file)}` };
  const script = fs.existsSync(loaderFile)
    ? `const m = require(${JSON.stringify(loaderFile)}).constantsMismatch(require(${JSON.stringify(file)}).constants());` +
      "if (m) { console.error('built from other sources: ' + m); process.exit(3); }"
    : `require(${JSON.stringify(file)}).constants();`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, IDX_NO_NATIVE: "" } });
  if (r.status === 0) return null;
  const first = (r.stderr || "").split("\n").find((l) => /Error|error|built from/.test(l)) || (r.stderr || "").trim().split("\n")[0];
  return { why: `${path.relative(root, file)}: ${r.signal ? `crashed (${r.signal})` : first || `exit ${r.status}`}`, crashed: r.signal !== null };
}

/** node-gyp as npm runs it for install scripts, else npm's own copy, else one on PATH. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  }
  for (const c of candidates) if (c && fs.existsSync(c)) return [process.execPath, c];
  return ["node-gyp"];
}

/** Runs node-gyp rebuild: null when it built a local addon, else why not. */
function compile(showOutput) {
  const [cmd, ...pre] = nodeGyp();
  const log = path.join(root, "build", "install.log");
  const r = spawnSync(cmd, [...pre, "rebuild"], {
    cwd: root,
    stdio: showOutput ? "inherit" : ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (!showOutput) {
    try {
      fs.mkdirSync(path.dirname(log), { recursive: true });
      fs.writeFileSync(log, `${cmd} ${[...pre, "rebuild"].join(" ")}\n${r.error ? `${r.error.message}\n` : ""}${r.stdout ?? ""}${r.stderr ?? ""}`);
    } catch {
      // The log is a courtesy: a read-only install still works.
    }
  }
  if (r.status === 0 && fs.existsSync(localBuild)) return null;
  // node-gyp rebuild starts by removing build/; when it could not even start, do as it would,
  // or the loader would take an older local build for the current one.
  fs.rmSync(localBuild, { force: true });
  if (r.error) return r.error.code === "ENOENT" ? "node-gyp not found" : r.error.message;
  return showOutput ? "see above" : "see build/install.log";
}

function say(line) {
  process.stderr.write(`idxmap: ${line}\n`);
}

function main() {
  const tag = platformTag();
  const prebuilt = path.join(root, "prebuilds", tag, "idx.node");
  const fromSource = [process.env.IDX_BUILD_FROM_SOURCE, process.env.npm_config_build_from_source].some((v) => /^(true|1)$/.test(v ?? ""));

  if (!inRepo && !fromSource) {
    const bad = check(prebuilt);
    if (bad === null) return; // step 1: the usual case
    if (bad.crashed) {
      // Set it aside, or the loader would crash the same way in every process.
      try {
        fs.renameSync(prebuilt, `${prebuilt}.failed`);
      } catch {}
    }
    const failed = compile(false);
    if (failed === null && check(localBuild) === null) {
      say(`compiled the native addon from source (${bad.why}).`);
      return;
    }
    say(
      `no native addon for ${tag} (${bad.why}; compiling native/ failed, ${failed ?? "the result did not load"}): idx will use its ` +
      "JavaScript paths (opening reads the whole file, no in-place writes). To get the addon: install a C compiler, " +
      "make and Python 3, then run npm rebuild idxmap.",
    );
    return;
  }

  // A clone of the repository, or --build-from-source: compile, since native/ is the truth.
  const failed = compile(inRepo);
  if (failed === null) return;
  const bad = check(prebuilt);
  if (bad === null) {
    say(`compiling native/ failed (${failed}); using the prebuilt prebuilds/${tag}/idx.node.`);
    return;
  }
  say(
    `compiling native/ failed (${failed}) and ${bad.why}: idx will use its JavaScript paths (opening reads the whole file, ` +
    "no in-place writes). To get the addon: install a C compiler, make and Python 3, then run npm rebuild idxmap.",
  );
}

try {
  main();
} catch (e) {
  say(`install step failed (${e.message}); idx will use its JavaScript paths where it has no addon.`);
}
process.exitCode = 0;
