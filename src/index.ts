/**
 * idx: a persistent uint32 -> uint32 index in one memory-mapped file.
 *
 *   await build(pairs, "ids.idx");          // once
 *   const ix = IdIndex.open("ids.idx");     // O(1), in any number of processes
 *   ix.get(42);
 */
export { IdIndex } from "./reader";
export type { IndexInfo } from "./reader";
export { build, buildFromText } from "./build";
export type { BuildOptions, BuildProgress, BuildResult, PairSource } from "./build";
export { verifyFile as verify } from "./verify";
export type { VerifyProblem, VerifyReport } from "./verify";
export { IdxError, isIdxError } from "./errors";
export type { IdxErrorCode } from "./errors";
export { hash32, unhash32, homeSlot } from "./hash";
export { VERSION_MAJOR, VERSION_MINOR, ESCAPED_KEY } from "./format";
export { IdWriter, growCapacity } from "./writer";
export type { WriterOptions, PairsLike } from "./writer";
