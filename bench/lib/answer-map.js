"use strict";
// A new process's first answer from a Map: it must rebuild it from the TSV.
// node answer-map.js TSV KEY [--rss]
const fs = require("node:fs");
const { parseTsv } = require("./common");
const { keys, values, n } = parseTsv(fs.readFileSync(process.argv[2]));
const map = new Map();
for (let i = 0; i < n; i++) map.set(keys[i], values[i]);
const v = map.get(Number(process.argv[3]));
if (process.argv[4] === "--rss") process.stdout.write(`${JSON.stringify({ ...require("./rss").rssParts(), value: v })}\n`);
else process.stdout.write(`${v}\n`);
