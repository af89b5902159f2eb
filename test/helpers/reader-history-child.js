"use strict";
/**
 * A reader process for test/writer-processes.test.ts. Loads the compiled package (dist/).
 *
 *   node reader-history-child.js DIST INDEX DONE SEED KEYS OPS READER_ID MODE
 *
 * MODE "once": opens INDEX once (IdIndex.open) and never again, prints "ready", then hammers
 * get, has and getMany on the keys of historyPlan(SEED, KEYS, OPS) (writer-plans.js) while a
 * writer process applies that plan, until the file DONE exists. Every answer must be a state
 * the key had: a value that decodes to this key and a version it held, or absent only where
 * the key was absent; and per key the states seen never go backwards. Each round it also
 * reads the header (info()). Then it checks that it answers exactly the plan's final map (it
 * followed every swap on its own).
 *
 * MODE "reopen" (run it with --expose-gc): prints "ready", then opens INDEX again and again
 * while the writer works, each time reading info() and size and checking a few lookups as
 * above (a later open maps a file at least as new, so the states still never go backwards).
 *
 * info() reads the header cells while the writer stores them; the readers call it often (every
 * round, and 64 times per open) so that a torn read of a cell would show.
 *
 * Prints one JSON line: { ok, lookups, intermediate, opens, lookupErrors, headerErrors,
 * finalErrors }. headerErrors are exceptions from IdIndex.open() or info() during the writes.
 */
const fs = require("node:fs");
const path = require("node:path");
const plans = require("./writer-plans.js");

const [distDir, indexPath, donePath, seedText, keysText, opsText, readerText] = process.argv.slice(2);
const { IdIndex } = require(path.join(distDir, "index.js"));
const HARD_LIMIT_MS = 30_000;
const MISSING = 0xdeadbeef;

const plan = plans.historyPlan({ seed: Number(seedText), keyCount: Number(keysText), ops: Number(opsText) });
const keyCount = plan.keys.length;
const keyIndex = new Map(plan.keys.map((k, i) => [k, i]));
/** verAt[i].get(version) = index of that state in plan.states[i]. */
const verAt = plan.states.map((states) => {
  const m = new Map();
  states.forEach((v, s) => {
    if (v >= 0) m.set(v, s);
  });
  return m;
});
/** The earliest state each key may still be in, for this reader: never decreases. */
const lastState = new Int32Array(keyCount);

const lookupErrors = [];
const headerErrors = [];
let lookups = 0;
let intermediate = 0;
let opens = 0;
const fail = (message) => {
  if (lookupErrors.length < 20) lookupErrors.push(message);
};
const headerFail = (e, what) => {
  if (headerErrors.length < 10) headerErrors.push(`${what} threw ${e && e.code ? e.code + ": " : ""}${e && e.message}`);
};
const HEADER_ERRORS_MAX = 10;

/** One answer for key i: undefined for absent, true for has() = true, or the value. */
function check(i, answer, how) {
  lookups++;
  const states = plan.states[i];
  const from = lastState[i];
  let at = -1;
  if (answer === undefined) {
    for (let s = from; s < states.length; s++) if (states[s] < 0) { at = s; break; }
    if (at < 0) return fail(`${how}(${plan.keys[i]}): absent, but the key was present in every state from ${from} on (states ${states.slice(0, 12)})`);
  } else if (answer === true) {
    for (let s = from; s < states.length; s++) if (states[s] >= 0) { at = s; break; }
    if (at < 0) return fail(`${how}(${plan.keys[i]}): present, but the key was absent in every state from ${from} on`);
  } else {
    const { index, version } = plans.decodeValue(answer);
    if (index !== i) return fail(`${how}(${plan.keys[i]}) = ${answer}: a value of key ${plan.keys[index] ?? `#${index}`}, not of this key`);
    const s = verAt[i].get(version);
    if (s === undefined) return fail(`${how}(${plan.keys[i]}) = ${answer}: version ${version}, which the key never held`);
    if (s < from) return fail(`${how}(${plan.keys[i]}) = ${answer}: state ${s} after state ${from} was seen (went backwards)`);
    at = s;
  }
  lastState[i] = at;
  if (at !== 0 && at !== states.length - 1) intermediate++;
}

const r = plans.rng(1000 + Number(readerText));
const pick = () => (r() % 10 === 0 ? r() % 3 : r() % keyCount);

function hammer(ix) {
  const batch = 64;
  const keys = new Uint32Array(batch);
  const idx = new Int32Array(batch);
  const values = new Uint32Array(batch);
  const found = new Uint8Array(batch);
  const capacities = new Set();
  const start = Date.now();
  for (let round = 0; ; round++) {
    if (headerErrors.length < HEADER_ERRORS_MAX) {
      try {
        capacities.add(ix.info().capacity);
      } catch (e) {
        headerFail(e, "info()");
      }
    }
    if (round % 32 === 0) {
      if (fs.existsSync(donePath)) break;
      if (Date.now() - start > HARD_LIMIT_MS) {
        fail(`no DONE file after ${HARD_LIMIT_MS} ms`);
        break;
      }
    }
    const kind = round % 3;
    if (kind === 0) {
      for (let n = 0; n < batch; n++) {
        const i = pick();
        check(i, ix.get(plan.keys[i]), "get");
      }
    } else if (kind === 1) {
      for (let n = 0; n < batch; n++) {
        const i = pick();
        check(i, ix.has(plan.keys[i]) ? true : undefined, "has");
      }
    } else {
      for (let n = 0; n < batch; n++) {
        idx[n] = pick();
        keys[n] = plan.keys[idx[n]];
      }
      values.fill(0);
      found.fill(7);
      const hits = ix.getMany(keys, values, found, MISSING);
      let counted = 0;
      for (let n = 0; n < batch; n++) {
        if (found[n] === 1) {
          counted++;
          check(idx[n], values[n], "getMany");
        } else if (found[n] === 0) {
          if (values[n] !== MISSING) fail(`getMany: key ${keys[n]} not found but its value is ${values[n]}, not the missing value`);
          check(idx[n], undefined, "getMany");
        } else fail(`getMany: found[${n}] = ${found[n]}`);
      }
      if (hits !== counted) fail(`getMany returned ${hits}, but ${counted} found flags are set`);
    }
    const size = ix.size;
    if (!(size >= 0 && size <= keyCount)) fail(`size ${size} outside 0..${keyCount}`);
    if (lookupErrors.length >= 20) break;
  }
  return [...capacities];
}

/**
 * Opens the index again and again while the writer works: open, info, size, a few lookups.
 * close() leaves the unmapping to the garbage collector, whose finalizers run from the event
 * loop: so it yields (and collects, when run with --expose-gc) every 256 opens, or the process
 * would run out of mappings (vm.max_map_count) long before the writer is done.
 */
async function reopen() {
  const start = Date.now();
  for (let attempt = 1; !fs.existsSync(donePath) && lookupErrors.length < 20; attempt++) {
    if (attempt % 256 === 0) {
      if (global.gc) global.gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (Date.now() - start > HARD_LIMIT_MS) {
      fail(`no DONE file after ${HARD_LIMIT_MS} ms`);
      break;
    }
    let ix;
    try {
      ix = IdIndex.open(indexPath);
      opens++;
    } catch (e) {
      headerFail(e, "IdIndex.open()");
      continue;
    }
    for (let n = 0; n < 64 && headerErrors.length < HEADER_ERRORS_MAX; n++) {
      try {
        ix.info();
      } catch (e) {
        headerFail(e, "info()");
      }
    }
    const size = ix.size;
    if (!(size >= 0 && size <= keyCount)) fail(`size ${size} outside 0..${keyCount}`);
    for (let n = 0; n < 16; n++) {
      const i = pick();
      check(i, ix.get(plan.keys[i]), "get");
    }
    ix.close();
  }
}

function finalCheck(ix) {
  const wrong = [];
  for (let i = 0; i < keyCount; i++) {
    const want = plan.final.get(plan.keys[i]);
    const got = ix.get(plan.keys[i]);
    if (got !== want) wrong.push(`final get(${plan.keys[i]}) = ${got}, expected ${want}`);
    if (ix.has(plan.keys[i]) !== (want !== undefined)) wrong.push(`final has(${plan.keys[i]}) wrong`);
    if (wrong.length > 5) break;
  }
  const keys = Uint32Array.from(plan.keys);
  const values = new Uint32Array(keyCount);
  const found = new Uint8Array(keyCount);
  const hits = ix.getMany(keys, values, found);
  if (hits !== plan.final.size) wrong.push(`final getMany hits ${hits}, expected ${plan.final.size}`);
  for (let i = 0; i < keyCount && wrong.length < 10; i++) {
    const want = plan.final.get(keys[i]);
    if (want === undefined ? found[i] !== 0 : found[i] !== 1 || values[i] !== want) {
      wrong.push(`final getMany key ${keys[i]}: ${values[i]}/${found[i]}, expected ${want}`);
    }
  }
  if (ix.size !== plan.final.size) wrong.push(`final size ${ix.size}, expected ${plan.final.size}`);
  let iterated = 0;
  for (const [k, v] of ix) {
    iterated++;
    if (!keyIndex.has(k) || plan.final.get(k) !== v) {
      wrong.push(`final iteration yields [${k}, ${v}]`);
      break;
    }
  }
  if (iterated !== plan.final.size) wrong.push(`final iteration yields ${iterated} entries, expected ${plan.final.size}`);
  const report = ix.verify();
  if (!report.ok) wrong.push(`verify of the mapped file: ${JSON.stringify(report.problems.slice(0, 3))}`);
  if (report.retired) wrong.push("still mapping a retired file after the writer finished");
  return { wrong, capacity: ix.info().capacity };
}

async function main() {
  const mode = process.argv[9];
  let result;
  let finalErrors = [];
  let capacities = [];
  try {
    if (mode === "reopen") {
      fs.writeSync(1, "ready\n");
      await reopen();
    } else {
      const ix = IdIndex.open(indexPath);
      fs.writeSync(1, "ready\n");
      capacities = hammer(ix);
      finalErrors = finalCheck(ix).wrong;
    }
  } catch (e) {
    finalErrors.push(`threw ${e && e.code ? e.code + ": " : ""}${e && e.stack}`);
  }
  const ok = lookupErrors.length === 0 && headerErrors.length === 0 && finalErrors.length === 0;
  result = { ok, pid: process.pid, mode, lookups, intermediate, opens, capacities, lookupErrors, headerErrors, finalErrors };
  fs.writeSync(1, JSON.stringify(result) + "\n");
  process.exitCode = result.ok ? 0 : 1;
}

main();
