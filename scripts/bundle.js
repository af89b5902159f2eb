"use strict";
/**
 * Bundles dist/index.js (tsc's output) and the modules it loads into one file, dist/idx.js,
 * the package's main. Node's loader costs about 0.1 ms a module to find, read and wrap; one
 * file instead of twenty takes that off every process that requires idx. The CLI keeps the
 * separate modules: it loads only those that its command needs.
 */
const path = require("node:path");
const esbuild = require("esbuild");

const root = path.join(__dirname, "..");
esbuild.buildSync({
  entryPoints: [path.join(root, "dist", "index.js")],
  outfile: path.join(root, "dist", "idx.js"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  // The addon's path is computed (native.ts): it stays a require at run time.
  logOverride: { "unsupported-require-call": "silent" },
});
