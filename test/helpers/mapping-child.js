"use strict";
/**
 * node --expose-gc mapping-child.js MODE DIST_INDEX INDEX_FILE KEY COUNT, one JSON line out:
 *  open-close  opens, gets and closes INDEX_FILE COUNT times in one synchronous loop: the mark-
 *              compacts V8 ran meanwhile, the mappings of the file left after, the external
 *              memory V8 counts after against before;
 *  many        opens it COUNT times at once: its mappings while open, and right after closing
 *              every reader (no collection, no turn of the event loop);
 *  open-drop   opens it COUNT times, dropping each reader unclosed: its mappings after a
 *              collection;
 *  first       the process's first open and get of INDEX_FILE: the collections V8 ran (any kind)
 *              from just before it until 100 ms later.
 */
const fs = require("node:fs");
const { PerformanceObserver, constants } = require("node:perf_hooks");
const [mode, dist, file, key, count] = process.argv.slice(2);
const { IdIndex } = require(dist);

function mappingsOf(path) {
  const real = fs.realpathSync(path);
  return fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) => line.endsWith(` ${real}`)).length;
}
const report = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

if (mode === "first") {
  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  observer.observe({ entryTypes: ["gc"] });
  const ix = IdIndex.open(file);
  const value = ix.get(Number(key));
  setTimeout(() => {
    observer.disconnect();
    report({ value, collections });
  }, 100);
} else if (mode === "open-close") {
  let majors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
  });
  // Warm up first: the first open maps the arena's slice, which V8 counts once.
  IdIndex.open(file).close();
  observer.observe({ entryTypes: ["gc"] });
  const external0 = process.memoryUsage().external;
  let value;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < Number(count); i++) {
    const ix = IdIndex.open(file);
    value = ix.get(Number(key));
    ix.close();
  }
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / Number(count);
  const after = mappingsOf(file);
  const externalGrowth = process.memoryUsage().external - external0;
  setTimeout(() => {
    observer.disconnect();
    report({ value, majors, after, externalGrowth, us });
  }, 100);
} else if (mode === "many") {
  const readers = Array.from({ length: Number(count) }, () => IdIndex.open(file));
  const value = readers[readers.length - 1].get(Number(key));
  const whileOpen = mappingsOf(file);
  for (const ix of readers) ix.close();
  report({ value, whileOpen, afterClose: mappingsOf(file) });
} else if (mode === "open-drop") {
  let value;
  for (let i = 0; i < Number(count); i++) value = IdIndex.open(file).get(Number(key));
  const whileOpen = mappingsOf(file);
  global.gc();
  // FinalizationRegistry callbacks run after the collection, from the event loop.
  setTimeout(() => {
    global.gc();
    setTimeout(() => report({ value, whileOpen, afterGc: mappingsOf(file) }), 50);
  }, 50);
} else {
  throw new Error(`unknown mode ${mode}`);
}
