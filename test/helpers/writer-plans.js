"use strict";
/**
 * Deterministic operation plans shared by test/writer-processes.test.ts and its child processes
 * (writer-child.js, reader-history-child.js), so every process derives the same sequence from a
 * seed instead of passing it around. Plain CommonJS: children load it with require(), the test
 * with createRequire().
 *
 * History plan (readers check every answer against it):
 *   A value encodes its key and a version: value = fmix32((version << 20) | keyIndex). fmix32
 *   is a bijection, so any reader decodes a value back to (keyIndex, version): a value of
 *   another key, or a version the key never had, is caught. Each set of a key bumps its
 *   version, so versions identify the key's states in order; deletes make it absent.
 */

const { MAX_U32, SPEC_ESCAPED_KEY: ESCAPED_KEY, rng, specHash, specUnhash } = require("./spec.js");

const INDEX_BITS = 20;
const INDEX_MASK = (1 << INDEX_BITS) - 1;

function encodeValue(index, version) {
  return specHash(((version << INDEX_BITS) | index) >>> 0);
}

function decodeValue(value) {
  const x = specUnhash(value);
  return { index: x & INDEX_MASK, version: x >>> INDEX_BITS };
}

/**
 * `n` distinct keys: 0, 4294967295 and the escaped key first, then `cluster` keys whose hashes
 * are consecutive (they share one home slot, so inserting or deleting near the front of their
 * run shifts all of it: long in-place operations), then random ones.
 */
function universe(n, seed, cluster = 0) {
  const r = rng(seed);
  const keys = [0, MAX_U32, ESCAPED_KEY];
  const seen = new Set(keys);
  for (let j = 0; keys.length < 3 + cluster; j++) {
    const k = specUnhash((0x40000000 + seed * 0x10000 + j) >>> 0);
    if (!seen.has(k)) {
      seen.add(k);
      keys.push(k);
    }
  }
  while (keys.length < n) {
    const k = r();
    if (!seen.has(k)) {
      seen.add(k);
      keys.push(k);
    }
  }
  return keys;
}

/**
 * The writer's sequence for the concurrent-readers test.
 *   keys[i]          the key universe (keys[0..2] = 0, 4294967295, escaped)
 *   initial          [keyIndex, version] present before the writer starts (a tiny index)
 *   steps            { op: "set", i, v } | { op: "del", i } | { op: "compact" }
 *                    | { op: "update", pairs: [[i, v], ...] }  (distinct keys; bulk when large)
 * and per key its states in order (for the readers' checks): states[i] = [v0|-1, v1|-1, ...]
 * where -1 is absent.
 */
function historyPlan({ seed = 1, keyCount = 5000, ops = 30000 } = {}) {
  const r = rng(seed * 7919 + 1);
  const keys = universe(keyCount, seed, Math.min(600, keyCount >> 3));
  const version = new Int32Array(keyCount).fill(-1); // -1 absent, else current version
  const lastVersion = new Int32Array(keyCount).fill(-1);
  const states = Array.from({ length: keyCount }, () => []);
  const initial = [];
  for (let i = 0; i < 8; i++) {
    version[i] = 0;
    lastVersion[i] = 0;
    initial.push([i, 0]);
  }
  for (let i = 0; i < keyCount; i++) states[i].push(version[i]);
  const steps = [];
  const setStep = (i) => {
    const v = ++lastVersion[i];
    version[i] = v;
    states[i].push(v);
    return v;
  };
  const pick = () => (r() % 10 === 0 ? r() % 3 : r() % keyCount);
  for (let n = 0; n < ops; n++) {
    if (n === Math.floor(ops / 2)) steps.push({ op: "compact" });
    if (n === Math.floor((ops * 3) / 4)) {
      // A batch larger than 4096 pairs and a quarter of the entries: merged into a new file.
      const chosen = new Set();
      while (chosen.size < Math.min(keyCount, 4500)) chosen.add(r() % keyCount);
      steps.push({ op: "update", pairs: [...chosen].map((i) => [i, setStep(i)]) });
    }
    if (n % 997 === 500) {
      // A small batch: applied in place, pair by pair.
      const chosen = new Set();
      while (chosen.size < 12) chosen.add(pick());
      steps.push({ op: "update", pairs: [...chosen].map((i) => [i, setStep(i)]) });
    }
    const i = pick();
    if (version[i] >= 0 && r() % 10 < 3) {
      version[i] = -1;
      states[i].push(-1);
      steps.push({ op: "del", i });
    } else {
      steps.push({ op: "set", i, v: setStep(i) });
    }
  }
  const final = new Map();
  for (let i = 0; i < keyCount; i++) if (version[i] >= 0) final.set(keys[i], encodeValue(i, version[i]));
  return { keys, initial, steps, states, final };
}

/**
 * The writer's sequence for the kill -9 test: every kind of operation, applied to a model as it
 * goes. Returns the initial map and steps, each with the keys it touches:
 *   { op: "set", k, v } | { op: "del", k } | { op: "update", pairs, bulk } | { op: "compact" }
 */
function crashPlan(seed, rounds = 24) {
  const r = rng(seed * 104729 + 3);
  const CLUSTER = 2000;
  const RANDOM_START = 3 + CLUSTER;
  const keys = universe(RANDOM_START + 1500 + rounds * 200, seed + 100, CLUSTER);
  const cluster = keys.slice(3, RANDOM_START);
  const initial = new Map();
  // The cluster, but for its first key (the front of its run); 1500 random keys.
  for (let i = 1; i < CLUSTER; i++) initial.set(cluster[i], r());
  for (let i = RANDOM_START; i < RANDOM_START + 1500; i++) initial.set(keys[i], r());
  // Keys 0, 4294967295 and the escaped key start present with edge values.
  initial.set(0, MAX_U32);
  initial.set(MAX_U32, 0);
  initial.set(ESCAPED_KEY, 12345);
  const present = new Set(initial.keys());
  const steps = [];
  const pick = () => keys[r() % 11 === 0 ? r() % 3 : r() % keys.length];
  const value = () => (r() % 9 === 0 ? (r() % 2 ? 0 : MAX_U32) : r());
  const setOrDelete = (k) => {
    if (present.has(k) && r() % 3 === 0) {
      present.delete(k);
      steps.push({ op: "del", k });
    } else {
      present.add(k);
      steps.push({ op: "set", k, v: value() });
    }
  };
  for (let round = 0; round < rounds; round++) {
    for (let n = 0; n < 250; n++) setOrDelete(pick());
    // Long shifts: insert and delete the front of the cluster's run, and keys near it.
    for (let n = 0; n < 40; n++) {
      const k = cluster[n % 2 === 0 ? 0 : r() % 64];
      if (present.has(k)) {
        present.delete(k);
        steps.push({ op: "del", k });
      } else {
        present.add(k);
        steps.push({ op: "set", k, v: value() });
      }
    }
    // Inserts of new keys that force the table to grow (compacted to 7/8 load, it grows past 9/10).
    for (let n = 0; n < 200; n++) {
      const k = keys[RANDOM_START + 1500 + round * 200 + n];
      present.add(k);
      steps.push({ op: "set", k, v: value() });
    }
    const small = new Set();
    while (small.size < 16) small.add(pick());
    steps.push({ op: "update", bulk: false, pairs: [...small].map((k) => [k, value()]) });
    for (const k of small) present.add(k);
    // More than 4096 pairs (repeats allowed: the last one wins): merged into a new file.
    const pairs = [];
    for (let n = 0; n < 4300; n++) pairs.push([pick(), value()]);
    steps.push({ op: "update", bulk: true, pairs });
    for (const [k] of pairs) present.add(k);
    steps.push({ op: "compact" });
  }
  return { keys, initial, steps };
}

/** Applies one crash-plan step to a Map model. */
function applyStep(model, step) {
  if (step.op === "set") model.set(step.k, step.v);
  else if (step.op === "del") model.delete(step.k);
  else if (step.op === "update") for (const [k, v] of step.pairs) model.set(k, v);
}

/** The keys a crash-plan step may change. */
function stepKeys(step) {
  if (step.op === "set" || step.op === "del") return [step.k];
  if (step.op === "update") return [...new Set(step.pairs.map(([k]) => k))];
  return [];
}

module.exports = {
  MAX_U32, ESCAPED_KEY, rng, specHash, specUnhash, encodeValue, decodeValue, universe,
  historyPlan, crashPlan, applyStep, stepKeys,
};
