#!/usr/bin/env node
"use strict";
/**
 * Peak memory of a build, by size: `idx build --binary FILE -o OUT` (and with --api,
 * buildFromBinary in a script) for each size, each in a fresh process whose peak RSS is taken by
 * `/usr/bin/time -f %M` (the kernel's ru_maxrss of the child). A build's memory should not follow
 * its size past memoryPairs: on an idle machine, beside CPU hogs (--busy) and on a throttled disk
 * (--slow-disk) alike.
 *
 *   node bench/build-memory.js                          # 10M, 30M, 100M pairs, idle
 *   node bench/build-memory.js --busy                   # beside one `node -e 'for(;;);'` a core
 *   node bench/build-memory.js --busy --slow-disk 50    # and reads and fsyncs at 50 MB/s
 *   node bench/build-memory.js --sizes 300M --root /tmp/idx-before   # another copy of idx
 *
 * Options: --sizes LIST (10M,30M,100M; K and M suffixes), --busy [N] (N hogs, default one a
 * core), --slow-disk MB_PER_S (a blkio cgroup v1 throttle on the data directory's device: reads
 * and the writes the build itself submits, its fsyncs; needs root), --api (also time
 * buildFromBinary), --stdin (also `idx build --binary - < FILE`), --pipe (also `cat FILE | idx
 * build --binary -`: a pipe, whose size is unknown), --reps R (default 1; the
 * highest peak is kept), --root DIR (the idx package to measure: default this repository),
 * --dir DIR (data and outputs; default a new directory in os.tmpdir(), removed at the end).
 *
 * Data: random distinct keys (bench/lib/common.js's "random" set), 8 bytes a pair; the files are
 * written once per run and deleted at the end.
 */
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { dataset } = require("./lib/common");

function parseArgs(argv) {
  const o = { sizes: "10M,30M,100M", busy: 0, slowDisk: 0, api: false, stdin: false, pipe: false, reps: 1, root: path.join(__dirname, ".."), dir: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === "--sizes") o.sizes = next();
    else if (a === "--busy") o.busy = /^\d+$/.test(argv[i + 1] ?? "") ? Number(next()) : os.availableParallelism();
    else if (a === "--slow-disk") o.slowDisk = Number(next());
    else if (a === "--api") o.api = true;
    else if (a === "--stdin") o.stdin = true;
    else if (a === "--pipe") o.pipe = true;
    else if (a === "--reps") o.reps = Number(next());
    else if (a === "--root") o.root = path.resolve(next());
    else if (a === "--dir") o.dir = path.resolve(next());
    else if (a === "--help" || a === "-h") {
      console.log(require("./lib/common").helpText(__filename));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  o.sizes = o.sizes.split(",").map((s) => {
    const m = /^(\d+(?:\.\d+)?)([KM]?)$/i.exec(s.trim());
    if (!m) throw new Error(`bad size ${s}: a number with an optional K or M`);
    return Math.round(Number(m[1]) * { "": 1, K: 1e3, M: 1e6 }[m[2].toUpperCase()]);
  });
  return o;
}

/** n random distinct pairs, as `idx dump --binary` writes them. */
function writePairs(file, n) {
  const d = dataset("random", n);
  const fd = fs.openSync(file, "w");
  const chunk = new Uint32Array(2 * (1 << 20));
  try {
    for (let at = 0; at < n; ) {
      const m = Math.min(n - at, 1 << 20);
      for (let i = 0; i < m; i++) {
        chunk[2 * i] = d.key(at + i);
        chunk[2 * i + 1] = d.value(at + i);
      }
      fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, 8 * m));
      at += m;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Drops `file` from the page cache (GNU dd's nocache), so that a throttled read is a real read. */
function dropCache(file) {
  spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

/** A blkio (cgroup v1) group that throttles reads and writes on `dir`'s device, or null. */
function slowDiskGroup(dir, mbPerSecond) {
  const base = "/sys/fs/cgroup/blkio";
  if (!fs.existsSync(path.join(base, "blkio.throttle.read_bps_device"))) {
    throw new Error("--slow-disk needs cgroup v1's blkio controller at /sys/fs/cgroup/blkio");
  }
  const rdev = spawnSync("findmnt", ["-n", "-o", "MAJ:MIN", "-T", dir], { encoding: "utf8" }).stdout.trim();
  if (!/^\d+:\d+$/.test(rdev)) throw new Error(`cannot tell the device of ${dir} (findmnt said ${JSON.stringify(rdev)})`);
  const group = path.join(base, `idx-build-memory-${process.pid}`);
  fs.mkdirSync(group);
  const bps = Math.round(mbPerSecond * 1e6);
  fs.writeFileSync(path.join(group, "blkio.throttle.read_bps_device"), `${rdev} ${bps}`);
  fs.writeFileSync(path.join(group, "blkio.throttle.write_bps_device"), `${rdev} ${bps}`);
  return { group, rdev, remove: () => fs.rmdirSync(group) };
}

/**
 * Runs argv under /usr/bin/time -f %M (in `group` if given), its stdin `stdin` (a file) or a
 * pipe from `cat pipe`; returns { kb, seconds, stderr }.
 */
function peakRss(argv, { stdin = null, pipe = null, group = null } = {}) {
  const enter = group ? `echo $$ > ${group}/cgroup.procs; ` : "";
  const redirect = stdin ? ` < "${stdin}"` : "";
  const from = pipe ? `cat "${pipe}" | ` : "exec ";
  const script = `${enter}${from}/usr/bin/time -f 'peak-kb %M' "$@"${redirect}`;
  const started = process.hrtime.bigint();
  const r = spawnSync("sh", ["-c", script, "sh", ...argv], { encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const m = /peak-kb (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${argv.join(" ")} failed (exit ${r.status}):\n${r.stderr}`);
  return { kb: Number(m[1]), seconds, stderr: r.stderr.replace(/peak-kb \d+\n?/, "").trim() };
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync("/usr/bin/time")) throw new Error("needs /usr/bin/time (GNU time: apt-get install time)");
  const bin = path.join(o.root, "bin", "idx.js");
  const main = path.join(o.root, "dist", "idx.js");
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "idx-build-memory-"));
  fs.mkdirSync(dir, { recursive: true });
  const hogs = [];
  let disk = null;
  const rows = [];
  const cleanup = () => {
    for (const h of hogs) h.kill("SIGKILL");
    disk?.remove();
    for (const name of fs.readdirSync(dir)) if (/^pairs-\d+\.bin$|\.idx$|\.tmp$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
    if (!o.dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => { cleanup(); process.exit(130); });
  try {
    if (o.slowDisk > 0) disk = slowDiskGroup(dir, o.slowDisk);
    for (let i = 0; i < o.busy; i++) hogs.push(spawn(process.execPath, ["-e", "for(;;);"], { stdio: "ignore" }));
    const git = spawnSync("git", ["-C", o.root, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim();
    console.log(`# idx at ${o.root}${git ? ` (git ${git})` : ""}; ${o.busy} CPU hogs; disk ${o.slowDisk ? `throttled to ${o.slowDisk} MB/s (blkio ${disk.rdev})` : "as it is"}; node ${process.version}`);
    for (const n of o.sizes) {
      const file = path.join(dir, `pairs-${n}.bin`);
      writePairs(file, n);
      const out = path.join(dir, "out.idx");
      const runs = [["idx build --binary FILE -o OUT", [process.execPath, bin, "build", "--binary", file, "-o", out, "-q"], {}]];
      const fromStdin = [process.execPath, bin, "build", "--binary", "-", "-o", out, "-q"];
      if (o.stdin) runs.push(["idx build --binary - -o OUT < FILE", fromStdin, { stdin: file }]);
      if (o.pipe) runs.push(["cat FILE | idx build --binary - -o OUT", fromStdin, { pipe: file }]);
      if (o.api) {
        const script = `require(${JSON.stringify(main)}).buildFromBinary(${JSON.stringify(file)}, ${JSON.stringify(out)}).catch((e) => { console.error(e); process.exit(1); })`;
        runs.push(["buildFromBinary(FILE, OUT)", [process.execPath, "-e", script], {}]);
      }
      for (const [what, argv, input] of runs) {
        let best = null;
        for (let r = 0; r < o.reps; r++) {
          fs.rmSync(out, { force: true });
          if (disk) dropCache(file);
          const m = peakRss(argv, { ...input, group: disk?.group });
          if (best === null || m.kb > best.kb) best = m;
        }
        const row = { pairs: n, what, peakMB: Math.round(best.kb / 1024), seconds: best.seconds.toFixed(1) };
        rows.push(row);
        console.log(`${n.toLocaleString("en-US")} pairs\t${what}\tpeak RSS ${row.peakMB} MB\t${row.seconds} s`);
      }
      fs.rmSync(file, { force: true });
      fs.rmSync(out, { force: true });
    }
  } finally {
    cleanup();
  }
  console.log("\n| pairs | command | peak RSS | time |\n| ---: | --- | ---: | ---: |");
  for (const r of rows) console.log(`| ${r.pairs.toLocaleString("en-US")} | \`${r.what}\` | ${r.peakMB.toLocaleString("en-US")} MB | ${r.seconds} s |`);
}

main();
