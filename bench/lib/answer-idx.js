"use strict";
// A new process's first answer through the library: node answer-idx.js FILE KEY [--rss]
const { IdIndex } = require("../../dist/index.js");
const v = IdIndex.open(process.argv[2]).get(Number(process.argv[3]));
process.stdout.write(process.argv[4] === "--rss" ? `${process.memoryUsage().rss} ${v}\n` : `${v}\n`);
