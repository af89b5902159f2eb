"use strict";
/**
 * A writer process for test/writer-processes.test.ts. Loads the compiled package (dist/), so it
 * tests what users run. The first argument is the dist/ directory, the second the mode:
 *
 *   history DIST INDEX SEED KEYS OPS
 *     Opens INDEX with IdWriter and applies historyPlan(SEED, KEYS, OPS) (writer-plans.js),
 *     pausing 1 ms every 40 operations so that readers in other processes interleave with it.
 *     Prints one JSON line: { ok, steps, swaps (inode changes seen), size, errors }.
 *
 *   crash DIST INDEX LOG SEED
 *     Opens INDEX and applies crashPlan(SEED), appending "B n" to LOG before step n and "E n"
 *     after it (write(2) on an O_APPEND descriptor: in the kernel before the next store, so it
 *     survives SIGKILL), then "C" once closed. Prints "started" on stdout once the writer is
 *     open, so the test kills it during the operations, not during startup.
 *
 *   hold DIST INDEX FROM COUNT
 *     Opens INDEX, sets keys FROM..FROM+COUNT-1 (value key + 1), prints "locked", then waits for
 *     a line "release" on stdin; sets FROM+COUNT..FROM+2*COUNT-1 (enough new keys to make the
 *     table grow while others wait), closes, prints "closed".
 *
 *   wait DIST INDEX FROM COUNT WAIT_MS
 *     Prints "waiting", opens INDEX with { wait: WAIT_MS }, prints "acquired", sets keys
 *     FROM..FROM+COUNT-1 (value key + 1), closes, prints a JSON line { ok, error? }.
 *
 *   fill DIST INDEX FROM MAX
 *     Opens INDEX and inserts new keys FROM, FROM+1, ... (value key ^ 0x5a5a5a5a) until one
 *     throws (a grow that cannot write its new file) or MAX were set. Then tries a bulk update
 *     (which also needs a bigger file), then overwrites the first key FROM in place, then closes.
 *     Prints one JSON line: { inserted, setError, updateError, overwriteError, closeError }.
 */
const fs = require("node:fs");
const path = require("node:path");
const plans = require("./writer-plans.js");

const [distDir, mode, ...args] = process.argv.slice(2);
const { IdWriter } = require(path.join(distDir, "index.js"));

const pause = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(pause, 0, 0, ms);

function errorInfo(e) {
  return e ? { code: e.code, message: String(e.message) } : null;
}

function history(indexPath, seed, keyCount, ops) {
  const plan = plans.historyPlan({ seed, keyCount, ops });
  const errors = [];
  let swaps = 0;
  let inode = fs.statSync(indexPath).ino;
  const w = IdWriter.open(indexPath);
  try {
    let n = 0;
    for (const step of plan.steps) {
      if (step.op === "set") w.set(plan.keys[step.i], plans.encodeValue(step.i, step.v));
      else if (step.op === "del") {
        if (!w.delete(plan.keys[step.i])) errors.push(`delete(${plan.keys[step.i]}) returned false`);
      } else if (step.op === "compact") w.compact();
      else if (step.op === "update") w.update(step.pairs.map(([i, v]) => [plan.keys[i], plans.encodeValue(i, v)]));
      if (++n % 40 === 0) {
        const now = fs.statSync(indexPath).ino;
        if (now !== inode) swaps++;
        inode = now;
        sleep(1);
      }
    }
    if (w.size !== plan.final.size) errors.push(`writer size ${w.size}, plan ${plan.final.size}`);
    if (!w.equals(plan.final)) errors.push("the writer's map differs from the plan's final map");
  } finally {
    w.close();
  }
  return { ok: errors.length === 0, steps: plan.steps.length, swaps, size: plan.final.size, errors };
}

function crash(indexPath, logPath, seed) {
  const plan = plans.crashPlan(seed);
  const log = fs.openSync(logPath, "a");
  const w = IdWriter.open(indexPath);
  fs.writeSync(1, "started\n");
  plan.steps.forEach((step, n) => {
    fs.writeSync(log, `B ${n}\n`);
    if (step.op === "set") w.set(step.k, step.v);
    else if (step.op === "del") w.delete(step.k);
    else if (step.op === "update") w.update(step.pairs);
    else if (step.op === "compact") w.compact();
    fs.writeSync(log, `E ${n}\n`);
  });
  w.close();
  fs.writeSync(log, "C\n");
  fs.closeSync(log);
}

function setRange(w, from, count) {
  for (let k = from; k < from + count; k++) w.set(k, k + 1);
}

function hold(indexPath, from, count) {
  const w = IdWriter.open(indexPath);
  setRange(w, from, count);
  fs.writeSync(1, `locked ${process.pid}\n`);
  let buffered = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    buffered += chunk;
    if (!buffered.includes("release\n")) return;
    process.stdin.pause();
    setRange(w, from + count, count);
    w.close();
    fs.writeSync(1, "closed\n");
    process.exit(0);
  });
}

function wait(indexPath, from, count, waitMs) {
  fs.writeSync(1, "waiting\n");
  let result;
  try {
    const w = IdWriter.open(indexPath, { wait: waitMs });
    fs.writeSync(1, "acquired\n");
    try {
      setRange(w, from, count);
    } finally {
      w.close();
    }
    result = { ok: true };
  } catch (e) {
    result = { ok: false, error: errorInfo(e) };
  }
  fs.writeSync(1, JSON.stringify(result) + "\n");
}

function fill(indexPath, from, max) {
  const w = IdWriter.open(indexPath);
  const out = { inserted: 0, setError: null, updateError: null, overwriteError: null, closeError: null };
  for (let k = from; k < from + max; k++) {
    try {
      w.set(k, (k ^ 0x5a5a5a5a) >>> 0);
      out.inserted++;
    } catch (e) {
      out.setError = errorInfo(e);
      break;
    }
  }
  try {
    const pairs = [];
    for (let i = 0; i < 6000; i++) pairs.push([from + max + i, i]);
    w.update(pairs);
    out.updateError = "none: the bulk update succeeded";
  } catch (e) {
    out.updateError = errorInfo(e);
  }
  try {
    w.set(from, 7);
  } catch (e) {
    out.overwriteError = errorInfo(e);
  }
  try {
    w.close();
  } catch (e) {
    out.closeError = errorInfo(e);
  }
  fs.writeSync(1, JSON.stringify(out) + "\n");
}

const n = (s) => Number(s);
if (mode === "history") {
  let result;
  try {
    result = history(args[0], n(args[1]), n(args[2]), n(args[3]));
  } catch (e) {
    result = { ok: false, errors: [`threw ${e && e.code ? e.code + ": " : ""}${e && e.stack}`] };
  }
  fs.writeSync(1, JSON.stringify(result) + "\n");
  process.exitCode = result.ok ? 0 : 1;
} else if (mode === "crash") crash(args[0], args[1], n(args[2]));
else if (mode === "hold") hold(args[0], n(args[1]), n(args[2]));
else if (mode === "wait") wait(args[0], n(args[1]), n(args[2]), n(args[3]));
else if (mode === "fill") fill(args[0], n(args[1]), n(args[2]));
else throw new Error(`unknown mode ${mode}`);
