"use strict";
/**
 * node --expose-gc mapping-child.js MODE DIST_INDEX INDEX_FILE KEY COUNT, one JSON line out:
 *  open-drop  opens INDEX_FILE COUNT times, dropping each reader unclosed: the external
 *             memory V8 counted meanwhile, and the mappings of the file before and after a
 *             collection;
 *  close      opens it COUNT times at once, moves the readers to the old generation, closes
 *             them all, and then allocates nothing: how many turns of the event loop pass
 *             before the mappings are gone (no collection is asked for).
 */
const fs = require("node:fs");
const [mode, dist, file, key, count] = process.argv.slice(2);
const { IdIndex } = require(dist);

function mappingsOf(path) {
  const real = fs.realpathSync(path);
  return fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) => line.endsWith(` ${real}`)).length;
}
const report = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

if (mode === "open-drop") {
  const external0 = process.memoryUsage().external;
  let externalMax = 0;
  let value;
  for (let i = 0; i < Number(count); i++) {
    const ix = IdIndex.open(file);
    value = ix.get(Number(key));
    externalMax = Math.max(externalMax, process.memoryUsage().external - external0);
  }
  const whileOpen = mappingsOf(file);
  global.gc();
  // The unmapping finalizers run after the collection, from the event loop.
  setTimeout(() => {
    global.gc();
    setTimeout(() => report({ value, externalMax, whileOpen, afterGc: mappingsOf(file) }), 50);
  }, 50);
} else if (mode === "close") {
  let readers = Array.from({ length: Number(count) }, () => IdIndex.open(file));
  const value = readers[0].get(Number(key));
  global.gc();
  global.gc();
  const whileOpen = mappingsOf(file);
  for (const ix of readers) ix.close();
  readers = null;
  let turns = 0;
  const tick = () => {
    turns++;
    const left = mappingsOf(file);
    if (left === 0 || turns >= 400) report({ value, whileOpen, left, turns });
    else setTimeout(tick, 5);
  };
  setTimeout(tick, 5);
} else {
  throw new Error(`unknown mode ${mode}`);
}
