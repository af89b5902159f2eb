#!/usr/bin/env node
// Writes fixtures/vectors/*.idx by the byte surgery of fixtures/vectors.js (from the golden
// files). Run once when a vector is added; the tests check that the files on disk are what the
// surgery makes, and that idx reads them as fixtures/vectors/expected.json says.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { VECTORS } = require("../fixtures/vectors.js");

const dir = path.join(__dirname, "..", "fixtures");
const read = (name) => fs.readFileSync(path.join(dir, name));
for (const [name, make] of Object.entries(VECTORS)) {
  const out = path.join(dir, "vectors", `${name}.idx`);
  fs.writeFileSync(out, make(read));
  console.log(`${path.relative(process.cwd(), out)}: ${fs.statSync(out).size} bytes`);
}
