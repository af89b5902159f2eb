"use strict";
/**
 * node --allow-natives-syntax --trace-turbo-inlining --trace-opt --trace-deopt --no-use-osr
 *   --no-concurrent-recompilation inlining-child.js DIST INDEX [shared]:
 * the loops a user writes over get, getOr and has, compiled by V8 as it does when a program's
 * lookups have run a while: the lookup is optimized on its own first, then the loop. That is the
 * hard case for the inlining budget: V8 counts the lookup's bytecode and everything its optimized
 * code inlined, times 1.2, against a budget of 920 bytecodes a loop. Each loop is compiled at a
 * call of our choosing (a compile V8's --trace-opt frames, its inlining trace inside); then the
 * loops run again, and test/inlining.test.ts reads V8's trace: the lookup and its probe inlined
 * into each loop, the budget they took, and no deoptimization.
 *
 * With `shared`, each loop first calls a second reader's lookup (another open of the file): its
 * call site has seen two closures, as a loop over two indexes has, or one whose reader made new
 * ones (a replaced file), and V8 inlines the lookup without the reader folded in.
 *
 * Keys are numbers (uint32, or safe integers for a 64-bit key file): the number keys of the
 * file's width, as a user's loop over Uint32Array or number[] keys passes them.
 */
const [dist, file, mode] = process.argv.slice(2);
const { IdIndex } = require(dist);
const ix = IdIndex.open(file);
const other = mode === "shared" ? IdIndex.open(file) : null;
const n = ix.size;
const wide = ix.keyBits === 64;
// Present keys (every other one of the file's, in slot order) and as many absent ones.
const present = [];
for (const [k] of ix.entries()) if (present.length < 50_000) present.push(Number(k));
const keys = wide ? present.map((k, i) => (i % 2 ? k : k + 2 ** 40)) : Uint32Array.from(present, (k, i) => (i % 2 ? k : (k ^ 0x5bd1e995) >>> 0));
function hotGetLoop(ix, keys) {
  let s = 0;
  for (let j = 0; j < keys.length; j++) {
    const v = ix.get(keys[j]);
    if (v !== undefined) s = (s + Number(v)) | 0;
  }
  return s;
}
function hotGetOrLoop(ix, keys) {
  let s = 0;
  for (let j = 0; j < keys.length; j++) s = (s + Number(ix.getOr(keys[j], 0))) | 0;
  return s;
}
function hotHasLoop(ix, keys) {
  let s = 0;
  for (let j = 0; j < keys.length; j++) if (ix.has(keys[j])) s++;
  return s;
}
const loops = [[hotGetLoop, "get"], [hotGetOrLoop, "getOr"], [hotHasLoop, "has"]];
let check = 0;
for (const [loop, name] of loops) {
  // Feedback for the loop and the lookup, then the lookup optimized alone, then the loop.
  if (other !== null) check ^= loop(other, keys);
  check ^= loop(ix, keys);
  const lookup = ix[name];
  const args = name === "getOr" ? [keys[1], 0] : [keys[1]];
  %PrepareFunctionForOptimization(lookup);
  lookup(...args);
  %OptimizeFunctionOnNextCall(lookup);
  lookup(...args);
  check ^= loop(ix, keys);
  %PrepareFunctionForOptimization(loop);
  check ^= loop(ix, keys);
  %OptimizeFunctionOnNextCall(loop);
  check ^= loop(ix, keys);
}
// Run on: a deopt of a loop would show in V8's trace after its compile, before the line that
// ends the run, printed through V8's own stdout stream so that it comes in order (at exit V8
// drops all code, which is not a deopt).
for (let p = 0; p < 20; p++) for (const [loop] of loops) check ^= loop(ix, keys);
%DebugPrint(`--- done ${n} ${check >>> 0} ---`);
