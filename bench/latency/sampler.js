"use strict";
/**
 * The seq sampler: how long a writer keeps seq odd, seen from outside the writer and without
 * changing the library. It reads the header's state and seq words with pread(2) in a tight loop
 * (a MAP_SHARED writer's stores are in the page cache, which pread reads: the same bytes a
 * reader's mapping shows), and times each odd value of seq from the sample before it was first
 * seen to the sample after it was last seen (an upper bound on how long it was odd; the lower
 * bound, first to last sighting, is kept too). An operation whose odd seq no sample saw (seq
 * went from even to the next even between two samples) lasted less than one sample gap.
 *
 * A retired file's seq stays odd for good (spec §11.4): that is not an operation. The sampler
 * then times the gap until the path names a new file (the rename readers follow) and switches
 * to it.
 *
 * Offsets: the state cell at 32 and the seq cell at 48, in format 1.0 and 2.0 alike.
 */
const fs = require("node:fs");
const { Histogram } = require("./hist");
const { monoNs, perfToMono, processCpu, reportErrors, yieldNow } = require("./common");

const send = (m) => process.send(m, () => process.exit(0));
reportErrors("sampler");

const STATE_RETIRED = 1 << 29;
const MAX_LONG = 20000;

let opts;
process.on("message", (m) => {
  if (m.type === "init") {
    opts = m;
    process.send({ type: "ready" });
  } else if (m.type === "go") run(m).catch((e) => process.emit("uncaughtException", e));
});

async function run(m) {
  const endNs = Number(m.endNs);
  const offset = perfToMono();
  const buf = Buffer.alloc(24);
  const upper = new Histogram(); // odd duration, upper bound
  const lower = new Histogram(); // odd duration, lower bound
  const gaps = new Histogram(); // time between samples
  const retireGaps = new Histogram(); // retired seen -> new file at the path seen
  const unseenGaps = new Histogram(); // for each operation no sample saw odd: the gap it fell in (its upper bound)
  const long = []; // odd runs >= longNs: [start mono (sample before), upper ns, lower ns]
  let fd = fs.openSync(opts.path, "r");
  let ino = fs.fstatSync(fd).ino;
  let samples = 0;
  let oddSamples = 0;
  let oddSeen = 0; // distinct odd values seen
  let unseenOps = 0; // operations whose odd value no sample saw
  let seqSteps = 0; // sum of seq increments seen (2 per operation)
  let files = 1;
  let prevSeq = -1;
  let prevT = performance.now();
  let oddSeq = -1;
  let oddBefore = 0; // time of the sample before the odd value was first seen
  let oddFirst = 0;
  let oddLast = 0;
  let retiredAt = -1;
  let lastStat = prevT;
  let lastYield = prevT;
  const cpuStart = processCpu(process.pid);
  const startNs = monoNs();
  const closeOdd = (t) => {
    const up = (t - oddBefore) * 1e6;
    const lo = (oddLast - oddFirst) * 1e6;
    upper.add(up);
    lower.add(lo);
    if (up >= opts.longNs && long.length < MAX_LONG) long.push([oddBefore * 1e6 + offset, up, lo]);
    oddSeq = -1;
  };
  for (;;) {
    fs.readSync(fd, buf, 0, 24, 32);
    const t = performance.now();
    const state = buf.readUInt32LE(0);
    const seq = buf.readUInt32LE(16);
    samples++;
    gaps.add((t - prevT) * 1e6);
    const retired = (state & STATE_RETIRED) !== 0;
    if (retired) {
      if (retiredAt < 0) {
        retiredAt = t;
        if (oddSeq >= 0) closeOdd(prevT); // the file was retired during an operation's odd seq?
      }
    } else {
      if (prevSeq >= 0 && seq !== prevSeq) {
        const step = (seq - prevSeq) >>> 0;
        seqSteps += step;
        if (oddSeq >= 0 && seq !== oddSeq) closeOdd(t);
        // Operations that began and ended between two samples: no sample saw them odd.
        let unseen;
        if ((prevSeq & 1) === 0 && (seq & 1) === 0) unseen = step / 2;
        else if ((prevSeq & 1) === 1 && (seq & 1) === 1) unseen = (step - 2) / 2;
        else unseen = (step - 1) / 2;
        if (unseen > 0 && unseen < 1e6) {
          unseenOps += unseen;
          for (let u = 0; u < unseen && u < 1000; u++) unseenGaps.add((t - prevT) * 1e6);
        }
      }
      if ((seq & 1) === 1) {
        oddSamples++;
        if (seq !== oddSeq) {
          oddSeq = seq;
          oddSeen++;
          oddBefore = prevT;
          oddFirst = t;
        }
        oddLast = t;
      }
      prevSeq = seq;
    }
    prevT = t;
    // Follow the path: at once (every 50 µs) when retired, else every 10 ms.
    if (t - lastStat > (retiredAt >= 0 ? 0.05 : 10)) {
      lastStat = t;
      let st;
      try {
        st = fs.statSync(opts.path);
      } catch {
        st = null;
      }
      if (st !== null && st.ino !== ino) {
        fs.closeSync(fd);
        fd = fs.openSync(opts.path, "r");
        ino = fs.fstatSync(fd).ino;
        files++;
        if (retiredAt >= 0) retireGaps.add((performance.now() - retiredAt) * 1e6);
        retiredAt = -1;
        oddSeq = -1;
        prevSeq = -1;
        prevT = performance.now();
      }
    }
    if (t - lastYield > 20) {
      if (monoNs() >= endNs) break;
      await yieldNow();
      lastYield = performance.now();
      prevT = lastYield; // the pause is not a gap between samples
      if (oddSeq >= 0) oddSeq = -1; // and an odd value across it is not timed
    }
  }
  fs.closeSync(fd);
  send({
    type: "result",
    startNs, stopNs: monoNs(),
    cpuTicks: processCpu(process.pid) - cpuStart,
    samples, oddSamples, oddSeen, unseenOps, operations: seqSteps / 2, files,
    unseenGap: unseenGaps.toJSON(),
    gap: gaps.toJSON(),
    oddUpper: upper.toJSON(),
    oddLower: lower.toJSON(),
    retireToRename: retireGaps.toJSON(),
    long,
  });
}
