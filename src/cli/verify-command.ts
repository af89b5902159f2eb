/** idx verify: the full check; exit 0 intact, 1 damaged (an index that fails a check), 2 not readable as an index. */
import { IdxError } from "../core/errors";
import { verifyFile } from "../verify";
import { EXIT_DAMAGED, EXIT_OK, UsageError, parseCommandArgs, plural, writeErr, writeOut } from "./io";

/** Reports of files that are not indexes at all: the same exit and message as get and info. */
const NOT_AN_INDEX = /is not an idx index|is empty \(0 bytes\)|uses format version/;

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs("verify", args, {});
  if (positionals.length !== 1) throw new UsageError("verify takes one index file", "verify");
  const path = positionals[0];
  const report = verifyFile(path);
  if (report.ok) {
    const notes: string[] = [];
    if (report.interrupted) {
      notes.push(`a writer stopped mid-operation; its ${plural(report.dirtyBlocks, "block is", "blocks are")} consistent and will be rechecksummed when a writer next opens the index`);
    } else if (report.writerStopped) {
      notes.push("a writer stopped mid-operation (its sequence number is odd); the next writer repairs it");
    }
    // Opened by its path: a retired file found there was never renamed over.
    if (report.retired) notes.push("it is marked retired but is still the file at its path (the process that replaced it stopped before its rename); the next writer repairs it");
    const checked = report.interrupted ? "checksums match outside the interrupted blocks" : "all checksums match";
    await writeOut(`${report.path}: ok, version ${report.version}, ${plural(report.entries, "entry", "entries")}, ${checked}${notes.map((n) => `; ${n}`).join("")}\n`, true);
    return EXIT_OK;
  }
  if (report.version === undefined && report.problems.length === 1 && NOT_AN_INDEX.test(report.problems[0].message)) {
    // Not an idx file (or a newer one): the caller has the wrong file, not a damaged index.
    const message = report.problems[0].message.replace(`${path}: `, "");
    const code = /uses format version/.test(message) ? "ERR_IDX_UNSUPPORTED_VERSION" : "ERR_IDX_NOT_AN_INDEX";
    throw new IdxError(code, message, { path });
  }
  const n = report.problems.length;
  writeErr(`idx: ${report.path}: damaged (${n >= 20 ? "20 problems or more" : plural(n, "problem", "problems")})\n`);
  for (const p of report.problems) writeErr(`  at byte ${p.offset}: ${p.message.replace(`${path}: `, "").replace(/\n/g, " ")}\n`);
  if (report.problems.some((p) => /is truncated/.test(p.message))) {
    writeErr(
      "To recover: the file is cut short, so `idx dump` cannot read it either; rebuild it from its\n" +
      "pairs with `idx build PAIRS -o FILE`, or restore the index from a good copy.\n",
    );
  } else {
    writeErr(
      "To recover: save what is readable with `idx dump FILE > pairs.tsv` (it lists the entries the\n" +
      "slots still hold; damaged ones may be wrong or missing), check it against your source, and\n" +
      "rebuild with `idx build pairs.tsv -o FILE`; or restore the index from a good copy.\n",
    );
  }
  return EXIT_DAMAGED;
}
