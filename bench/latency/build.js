"use strict";
/**
 * Builds the bench's index with the idx package under test, in a process of its own (so the
 * orchestrator never loads two idx packages, and their addons, at once).
 *   node bench/latency/build.js IDX_DIR FILE N SEED
 */
const { keyOf, valueOf, loadIdx } = require("./common");

async function main() {
  const [dir, file, nArg, seedArg] = process.argv.slice(2);
  const n = Number(nArg);
  const seed = Number(seedArg);
  const keys = new Uint32Array(n);
  const values = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = keyOf(i, seed);
    values[i] = valueOf(i);
  }
  await loadIdx(dir).build({ keys, values }, file);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
