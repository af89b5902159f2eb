"use strict";
/**
 * The LMDB peer (the lmdb npm package), one mode a process: node lmdb-worker.js '<json spec>'.
 *   build    read + parse the TSV + putSync of every pair in one transaction, flushed, timed
 *   open     open + first getBinaryFast in this process, timed
 *   lookups  getBinaryFast loops over the query files (uint32 keys, 4-byte LE values)
 */
const fs = require("node:fs");
const path = require("node:path");
const { BENCH_DIR, median, nowNs, msSince, readU32, parseTsv, report, warmUp, timeReps } = require("./common");

const spec = JSON.parse(process.argv[2]);
const { open } = require(path.join(BENCH_DIR, "node_modules", "lmdb"));

function getLoop(db, keys) {
  let sum = 0, found = 0;
  for (let i = 0; i < keys.length; i++) {
    const b = db.getBinaryFast(keys[i]);
    if (b !== undefined) {
      sum = (sum + (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24))) | 0;
      found++;
    }
  }
  return { sum: sum >>> 0, found };
}

async function main() {
  if (spec.mode === "build") {
    for (const f of [spec.out, `${spec.out}-lock`]) fs.rmSync(f, { force: true });
    const t0 = nowNs();
    const { keys, values, n } = parseTsv(fs.readFileSync(spec.tsv));
    const db = open({ path: spec.out, noSubdir: true, keyEncoding: "uint32", encoding: "binary" });
    const val = Buffer.alloc(4);
    db.transactionSync(() => {
      for (let i = 0; i < n; i++) {
        val.writeUInt32LE(values[i], 0);
        db.putSync(keys[i], val);
      }
    });
    await db.flushed;
    const ms = msSince(t0);
    const count = db.getCount();
    await db.close();
    const st = fs.statSync(spec.out);
    report({ ms, count, fileBytes: st.size, allocatedBytes: st.blocks * 512 });
    return;
  }
  if (spec.mode === "open") {
    const t0 = nowNs();
    const db = open({ path: spec.file, noSubdir: true, keyEncoding: "uint32", encoding: "binary", readOnly: true });
    const b = db.getBinaryFast(spec.key);
    const coldMs = msSince(t0);
    report({ coldMs, value: b === undefined ? null : b.readUInt32LE(0) });
    return;
  }
  if (spec.mode === "lookups") {
    const db = open({ path: spec.file, noSubdir: true, keyEncoding: "uint32", encoding: "binary", readOnly: true });
    const out = {};
    for (const [name, file] of Object.entries(spec.queries)) {
      const keys = readU32(file);
      const warm = warmUp(() => getLoop(db, keys));
      const g = timeReps(spec.reps, keys.length, () => getLoop(db, keys));
      out[name] = { getNs: median(g.ns), getSum: g.last.sum, getFound: g.last.found, getRuns: g.ns, warmPasses: warm, discarded: g.discarded };
    }
    report(out);
    return;
  }
  throw new Error(`unknown mode ${spec.mode}`);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack || e}\n`);
  process.exit(1);
});
