"use strict";
// What a reader's memory is made of, from /proc/self/status (bytes). Dependency-free, so that
// loading it after the answer adds next to nothing to what it measures.
const fs = require("node:fs");

function rssParts() {
  const s = fs.readFileSync("/proc/self/status", "utf8");
  const kb = (name) => Number((new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(s) || [])[1] || 0) * 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem") };
}

/** Resident bytes of this process's mappings of `file` (from /proc/self/smaps). */
function mappedRss(file) {
  const real = fs.realpathSync(file);
  let inFile = false, kb = 0;
  for (const line of fs.readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) inFile = head[1] === real;
    else if (inFile && line.startsWith("Rss:")) kb += Number(line.split(/\s+/)[1]);
  }
  return kb * 1024;
}

module.exports = { rssParts, mappedRss };
