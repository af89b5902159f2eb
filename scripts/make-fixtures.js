#!/usr/bin/env node
// Regenerates fixtures/*.idx from fixtures/*.tsv. Run only when the format changes on
// purpose (a new version): the golden test exists to catch any unintended change.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { buildFromText } = require("../dist/index.js");

const dir = path.join(__dirname, "..", "fixtures");
(async () => {
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".tsv")).sort()) {
    const out = path.join(dir, name.replace(/\.tsv$/, ".idx"));
    const r = await buildFromText(path.join(dir, name), out);
    console.log(`${path.relative(process.cwd(), out)}: ${r.count} entries, ${r.fileBytes} bytes`);
  }
})();
