"use strict";
// A new process's first answer from LMDB: node answer-lmdb.js FILE KEY [--rss]
const { open } = require("../node_modules/lmdb");
const db = open({ path: process.argv[2], noSubdir: true, keyEncoding: "uint32", encoding: "binary", readOnly: true });
const b = db.getBinaryFast(Number(process.argv[3]));
const v = b === undefined ? undefined : b.readUInt32LE(0);
if (process.argv[4] === "--rss") process.stdout.write(`${JSON.stringify({ ...require("./rss").rssParts(), mapped: require("./rss").mappedRss(process.argv[2]), value: v })}\n`);
else process.stdout.write(`${v}\n`);
