#!/usr/bin/env node
// Regenerates fixtures/*.idx (not fixtures/v1/, which idx 0.1 wrote). Run only when the format
// changes on purpose (a new version): the golden tests exist to catch any unintended change.
//  - fixtures/NAME.tsv -> fixtures/NAME.idx by the builder;
//  - fixtures/edited.idx: cluster.idx after the in-place edits in EDITS (test/fixtures.test.ts
//    replays them);
//  - interrupted.idx, retired.idx, minor.idx: byte surgery of fixtures/edits.js.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { buildFromText, IdWriter } = require("../dist/index.js");
const { EDITS, interruptInsert, retire, minorSeven } = require("../fixtures/edits.js");

const dir = path.join(__dirname, "..", "fixtures");
(async () => {
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".tsv")).sort()) {
    const out = path.join(dir, name.replace(/\.tsv$/, ".idx"));
    const r = await buildFromText(path.join(dir, name), out);
    console.log(`${path.relative(process.cwd(), out)}: ${r.count} entries, ${r.fileBytes} bytes`);
  }
  const edited = path.join(dir, "edited.idx");
  fs.copyFileSync(path.join(dir, "cluster.idx"), edited);
  const w = IdWriter.open(edited, { create: false });
  for (const [op, key, value] of EDITS) op === "set" ? w.set(key, value) : w.delete(key);
  w.close();
  console.log(`fixtures/edited.idx: ${EDITS.length} edits of cluster.idx`);
  fs.writeFileSync(path.join(dir, "interrupted.idx"), interruptInsert(fs.readFileSync(edited)));
  console.log("fixtures/interrupted.idx: edited.idx with an insert cut short");
  fs.writeFileSync(path.join(dir, "retired.idx"), retire(fs.readFileSync(path.join(dir, "cluster.idx"))));
  console.log("fixtures/retired.idx: cluster.idx retired");
  fs.writeFileSync(path.join(dir, "minor.idx"), minorSeven(fs.readFileSync(path.join(dir, "one.idx"))));
  console.log("fixtures/minor.idx: one.idx as version 2.7");
})();
