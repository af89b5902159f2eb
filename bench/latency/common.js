"use strict";
/**
 * What every process of the latency bench shares: the keys (pure functions of a row number, so
 * no process has to be sent them), one monotonic clock, and readings of the kernel's counters.
 */
const fs = require("node:fs");
const path = require("node:path");

/** lowbias32: a bijection of uint32, so distinct rows give distinct keys. */
function mix32(x) {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The key of row i. Rows 0..n-1 are the built index; writers add rows from n up (disjoint ranges per writer role). */
function keyOf(i, seed) {
  return mix32((i + seed) >>> 0);
}

/** The value a build gives row i. */
function valueOf(i) {
  return mix32(i ^ 0x5bd1e995);
}

/** xorshift32: a fast, allocation-free PRNG (never 0). */
function makeRandom(seed) {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/**
 * CLOCK_MONOTONIC in ns as a Number (process.hrtime.bigint(): the same clock in every process
 * of the machine, so events from different processes line up). Allocates: not for hot loops.
 */
function monoNs() {
  return Number(process.hrtime.bigint());
}

/**
 * An allocation-free clock for hot loops: performance.now() (ms since this process's time
 * origin, a double with sub-µs resolution) mapped to monoNs by an offset measured once.
 */
function perfToMono() {
  // Take the pair with the smallest gap of a few tries.
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 20; i++) {
    const a = performance.now();
    const m = monoNs();
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = m - ((a + b) / 2) * 1e6;
    }
  }
  return offset; // mono = perf * 1e6 + offset
}

/** /proc/thread-self/schedstat of the calling thread: [cpu ns, run-queue wait ns, timeslices]. */
class SchedStat {
  constructor() {
    this.buf = Buffer.alloc(128);
    try {
      this.fd = fs.openSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, "r");
    } catch {
      this.fd = -1;
    }
    this.cpu = 0;
    this.wait = 0;
    this.slices = 0;
  }

  /** Reads the counters into this.cpu, this.wait (ns) and this.slices (times switched in); false when unavailable. */
  read() {
    if (this.fd < 0) return false;
    const n = fs.readSync(this.fd, this.buf, 0, 128, 0);
    let i = 0;
    let a = 0;
    while (i < n && this.buf[i] !== 32) a = a * 10 + (this.buf[i++] - 48);
    i++;
    let b = 0;
    while (i < n && this.buf[i] !== 32) b = b * 10 + (this.buf[i++] - 48);
    i++;
    let c = 0;
    while (i < n && this.buf[i] >= 48 && this.buf[i] <= 57) c = c * 10 + (this.buf[i++] - 48);
    this.cpu = a;
    this.wait = b;
    this.slices = c;
    return true;
  }
}

/** Machine-wide CPU counters from /proc/stat, in clock ticks: { busy, total }. */
function machineCpu() {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice
    const idle = f[3] + (f[4] || 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total, steal: f[7] || 0 };
  } catch {
    return null;
  }
}

/** CPU ticks used by process pid, its waited-for children included (/proc/PID/stat). */
function processCpu(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // fields after ')' start at field 3 (state); utime is field 14 -> index 11
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return null;
  }
}

function loadavg() {
  return require("node:os").loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Loads the idx package under test from its directory (its package.json main). */
function loadIdx(dir) {
  return require(path.resolve(dir));
}

/** Messages between the orchestrator and its children go over IPC; this waits for one of a type. */
function nextMessage(proc, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m && m.type === type) {
        cleanup();
        resolve(m);
      } else if (m && m.type === "error") {
        cleanup();
        reject(new Error(`${m.role}: ${m.message}`));
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`child exited (${code ?? signal}) while waiting for ${type}`));
    };
    const cleanup = () => {
      proc.off("message", onMessage);
      proc.off("exit", onExit);
    };
    proc.on("message", onMessage);
    proc.on("exit", onExit);
  });
}

/** In a child: report an uncaught error to the parent, then exit. */
function reportErrors(role) {
  const fail = (e) => {
    try {
      process.send({ type: "error", role, message: e && e.stack ? e.stack : String(e) });
    } catch {
      // parent gone
    }
    process.exit(1);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
}

const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

module.exports = {
  mix32, keyOf, valueOf, makeRandom, monoNs, perfToMono, SchedStat, machineCpu, processCpu, loadavg, loadIdx,
  nextMessage, reportErrors, yieldNow,
};
