"use strict";
/**
 * How long a writer keeps seq odd, timed inside the writer process without changing idx. Older
 * idx stores each header cell with one `Atomics.store` on a BigUint64Array over the header (the
 * seq cell is index 6, offset 48, in format 1.0 and 2.0 alike); the current one calls its
 * addon's `storeCell(id, offset, word)`. Wrapping both sees every store of seq. An odd store opens an operation, the next even store closes it; the time
 * between them (after each store) is how long readers saw an odd seq. A store of an odd seq
 * while the state cell has RETIRED is the retire mark of a swap (§11.4), not an operation.
 *
 * Loaded in the bench's writer process (install()) and, for the idx CLI, with `node -r` and
 * IDX_LATENCY_SEQ_PROBE=FILE: each CLI process appends its records to FILE when it exits.
 * The wrapper costs a type check per Atomics.store.
 */
const fs = require("node:fs");
const { Histogram } = require("./hist");
const { perfToMono } = require("./common");

const SEQ_INDEX = 6;
const STATE_INDEX = 4;
const RETIRED = 1n << 29n;
const LONG_NS = 100_000;
const MAX_LONG = 20000;

const state = {
  installed: false,
  offset: 0,
  hist: new Histogram(),
  long: [], // [odd store mono ns, odd duration ns]
  retires: [], // mono ns of each retire mark
  openAt: -1,
};

function install() {
  if (state.installed) return state;
  state.installed = true;
  state.offset = perfToMono();
  const store = Atomics.store;
  const wrapped = function store_(ta, index, value) {
    const r = store(ta, index, value);
    if (index === SEQ_INDEX && ta.length <= 16 && ta instanceof BigUint64Array) {
      const t = performance.now();
      if ((value & 1n) === 1n) {
        if ((ta[STATE_INDEX] & RETIRED) !== 0n) {
          state.retires.push(t * 1e6 + state.offset);
          state.openAt = -1;
        } else {
          state.openAt = t;
        }
      } else if (state.openAt >= 0) {
        const d = (t - state.openAt) * 1e6;
        state.hist.add(d);
        if (d >= LONG_NS && state.long.length < MAX_LONG) state.long.push([state.openAt * 1e6 + state.offset, d]);
        state.openAt = -1;
      }
    }
    return r;
  };
  Object.defineProperty(Atomics, "store", { value: wrapped, writable: true, configurable: true, enumerable: false });
  // The current idx: cells through the addon's storeCell. Wrap it as the addon loads.
  const Module = require("node:module");
  const loadNode = Module._extensions[".node"];
  let retired = false;
  Module._extensions[".node"] = function (module, filename) {
    loadNode(module, filename);
    const addon = module.exports;
    if (typeof addon.storeCell !== "function") return;
    const storeCell = addon.storeCell;
    addon.storeCell = function storeCell_(id, offset, word) {
      storeCell(id, offset, word);
      if (offset === 32) retired = ((word >>> 0) & (1 << 29)) !== 0;
      if (offset !== 48) return;
      const t = performance.now();
      if (((word >>> 0) & 1) === 1) {
        if (retired) {
          state.retires.push(t * 1e6 + state.offset);
          state.openAt = -1;
        } else {
          state.openAt = t;
        }
      } else if (state.openAt >= 0) {
        const d = (t - state.openAt) * 1e6;
        state.hist.add(d);
        if (d >= LONG_NS && state.long.length < MAX_LONG) state.long.push([state.openAt * 1e6 + state.offset, d]);
        state.openAt = -1;
      }
    };
  };
  return state;
}

/** Records of a probe, as written to a file by CLI processes: one JSON line per process. */
function snapshot() {
  return { hist: state.hist.toJSON(), long: state.long, retires: state.retires };
}

/** Merges the lines CLI processes appended to `file` into one record. */
function readFile(file) {
  const hist = new Histogram();
  const long = [];
  const retires = [];
  let processes = 0;
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    // no CLI process wrote anything
  }
  for (const line of text.split("\n")) {
    if (!line) continue;
    const j = JSON.parse(line);
    processes++;
    hist.merge(Histogram.fromJSON(j.hist));
    long.push(...j.long);
    retires.push(...j.retires);
  }
  return { processes, hist: hist.toJSON(), long, retires };
}

if (process.env.IDX_LATENCY_SEQ_PROBE) {
  install();
  const file = process.env.IDX_LATENCY_SEQ_PROBE;
  process.on("exit", () => {
    fs.appendFileSync(file, JSON.stringify(snapshot()) + "\n");
  });
}

module.exports = { install, snapshot, readFile, state };
