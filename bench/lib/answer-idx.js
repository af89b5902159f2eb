"use strict";
// A new process's first answer through the library: node answer-idx.js FILE KEY [--rss]
// IDX_ROOT: the copy of idx that bench/run.js measures (default: this checkout).
const { IdIndex } = require(process.env.IDX_ROOT || `${__dirname}/../..`); // the package's main
const v = IdIndex.open(process.argv[2]).get(Number(process.argv[3]));
if (process.argv[4] === "--rss") process.stdout.write(`${JSON.stringify({ ...require("./rss").rssParts(), mapped: require("./rss").mappedRss(process.argv[2]), value: v })}\n`);
else process.stdout.write(`${v}\n`);
