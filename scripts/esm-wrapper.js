"use strict";
/**
 * Writes dist/idx.mjs and dist/idx.d.mts after the bundle (npm's postbuild): the package's
 * `import` entry. It re-exports the CommonJS bundle dist/idx.js by name, so `import { IdIndex }
 * from "idxmap"` and `require("idxmap")` share one copy of idx (one addon load, one IdxError
 * class for instanceof). The names are read from the bundle itself, so they follow src/index.ts.
 */
const fs = require("node:fs");
const path = require("node:path");

const dist = path.join(__dirname, "..", "dist");
const names = Object.keys(require(path.join(dist, "idx.js"))).filter((n) => n !== "default" && n !== "__esModule");
for (const n of names) {
  if (!/^[A-Za-z_$][\w$]*$/.test(n)) throw new Error(`esm-wrapper: export ${n} is not an identifier`);
}
const header = "// Written by scripts/esm-wrapper.js: the ES module entry of idxmap, over the CommonJS bundle idx.js.\n";
fs.writeFileSync(
  path.join(dist, "idx.mjs"),
  `${header}import idx from "./idx.js";\n\nexport const {\n${names.map((n) => `  ${n},`).join("\n")}\n} = idx;\nexport default idx;\n`,
);
fs.writeFileSync(
  path.join(dist, "idx.d.mts"),
  `${header}import * as idx from "./index.js";\n\nexport * from "./index.js";\nexport default idx;\n`,
);
