"use strict";
/**
 * node --expose-gc mapping-child.js DIST_INDEX INDEX_FILE KEY ROUNDS
 * Opens INDEX_FILE ROUNDS times, dropping each reader, and prints one JSON line: the external
 * memory V8 counted meanwhile, and how many mappings of the file are left after a collection.
 */
const fs = require("node:fs");
const [dist, file, key, rounds] = process.argv.slice(2);
const { IdIndex } = require(dist);

function mappingsOf(path) {
  const real = fs.realpathSync(path);
  return fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) => line.endsWith(` ${real}`)).length;
}

const external0 = process.memoryUsage().external;
let externalMax = 0;
let value;
for (let i = 0; i < Number(rounds); i++) {
  const ix = IdIndex.open(file);
  value = ix.get(Number(key));
  externalMax = Math.max(externalMax, process.memoryUsage().external - external0);
}
const whileOpen = mappingsOf(file);
global.gc();
// The unmapping finalizers run after the collection, from the event loop.
setTimeout(() => {
  global.gc();
  setTimeout(() => {
    process.stdout.write(JSON.stringify({ value, externalMax, whileOpen, afterGc: mappingsOf(file) }) + "\n");
  }, 50);
}, 50);
