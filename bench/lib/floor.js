"use strict";
/**
 * The in-process C floor (bench/floor/inproc.c), compiled on first use with node-gyp as npm finds
 * it, and what the ratio scripts print about the run (command, commit, CPU).
 */
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { BENCH_DIR, ROOT_DIR } = require("./common");

function floorModule() {
  const dir = path.join(BENCH_DIR, "floor");
  const built = path.join(dir, "build", "Release", "inproc.node");
  const src = path.join(dir, "inproc.c");
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(src).mtimeMs) {
    const npm = path.dirname(path.dirname(fs.realpathSync(process.execPath)));
    const candidates = [
      process.env.npm_config_node_gyp,
      path.join(npm, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
      "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    ].filter((p) => p && fs.existsSync(p));
    if (candidates.length === 0) throw new Error("node-gyp not found: cannot compile bench/floor/inproc.c");
    const nodedir = path.dirname(path.dirname(process.execPath));
    const args = [candidates[0], "rebuild"];
    if (fs.existsSync(path.join(nodedir, "include", "node", "node_api.h"))) args.push(`--nodedir=${nodedir}`);
    execFileSync(process.execPath, args, { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  }
  return require(built);
}

/** The command, the date, the commit and the CPU, for a results file's header. */
function runMeta(script) {
  let commit = "?";
  try {
    commit = execFileSync("git", ["-C", ROOT_DIR, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    // not a checkout
  }
  let cpu = process.arch;
  try {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1];
  } catch {
    // not Linux
  }
  return { command: `node bench/${script} ${process.argv.slice(2).join(" ")}`.trim(), date: new Date().toISOString(), commit, cpu };
}

module.exports = { floorModule, runMeta };
