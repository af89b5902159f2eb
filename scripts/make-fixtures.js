#!/usr/bin/env node
// Regenerates fixtures/*.idx. Run only when the format changes on purpose (a new version): the
// golden tests exist to catch any unintended change.
//  - fixtures/NAME.tsv -> fixtures/NAME.idx by the builder;
//  - fixtures/edited.idx: cluster.idx after the in-place edits in EDITS (test/fixtures.test.ts
//    replays them);
//  - fixtures/interrupted.idx: edited.idx as a writer killed in the middle of an insert leaves it.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { buildFromText } = require("../dist/index.js");
const { IdWriter } = require("../dist/writer.js");
const { EDITS, interruptInsert } = require("../fixtures/edits.js");

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
  const interrupted = path.join(dir, "interrupted.idx");
  fs.writeFileSync(interrupted, interruptInsert(fs.readFileSync(edited)));
  console.log("fixtures/interrupted.idx: edited.idx with an insert cut short");
})();
