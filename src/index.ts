/**
 * idx: a persistent uint32 -> uint32 index in one memory-mapped file.
 *
 *   await build(pairs, "ids.idx");          // once
 *   const ix = IdIndex.open("ids.idx");     // O(1), in any number of processes
 *   ix.get(42);
 */
// `using ix = IdIndex.open(...)` closes it at the end of the block (Symbol.dispose, Node >= 20.4).
// Declared here as TypeScript's lib esnext.disposable declares it, for projects whose lib
// predates it; the two declarations merge.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

export { IdIndex } from "./reader/reader";
export type { IndexInfo } from "./reader/info";
export { build, buildFromBinary, buildFromText } from "./build/api";
export { copyIndex } from "./copy";
export type { CopyOptions } from "./copy";
export type { AbortSignalLike, BuildOptions, BuildProgress, BuildResult, PairSource } from "./build/api";
export { verifyFile as verify } from "./verify";
export type { VerifyProblem, VerifyReport } from "./verify";
export { IdxError, isIdxError } from "./core/errors";
export type { IdxErrorCode, IdxErrorDetails } from "./core/errors";
export { hash32, unhash32, homeSlot } from "./core/hash";
export { VERSION_MAJOR, VERSION_MINOR, ESCAPED_KEY } from "./core/format";
export { IdWriter } from "./writer/writer";
export type { CopyToOptions, WriterOptions, PairsLike } from "./writer/writer";
export type { ReplaceOutcome } from "./replace";
