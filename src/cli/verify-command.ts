import { verifyFile } from "../verify";
import { EXIT_DAMAGED, EXIT_OK, UsageError, parseCommandArgs } from "./io";

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs("verify", args, {});
  if (positionals.length !== 1) throw new UsageError("verify takes one index file", "verify");
  const report = verifyFile(positionals[0]);
  if (report.ok) {
    const notes: string[] = [];
    if (report.interrupted) {
      notes.push(`a writer stopped mid-operation; its ${report.dirtyBlocks} block(s) are consistent and are rechecksummed when a writer next opens the index`);
    }
    if (report.retired) notes.push("this file was replaced by a newer one at its path (retired)");
    const checked = report.interrupted ? "checksums match outside the interrupted blocks" : "all checksums match";
    process.stdout.write(`${report.path}: ok, ${report.entries} entries, ${checked}${notes.map((n) => `; ${n}`).join("")}\n`);
    return EXIT_OK;
  }
  process.stderr.write(`idx: ${report.path}: damaged (${report.problems.length}${report.problems.length >= 20 ? "+" : ""} problems)\n`);
  for (const p of report.problems) process.stderr.write(`  at byte ${p.offset}: ${p.message.replace(/\n/g, " ")}\n`);
  process.stderr.write("Rebuild the index from its source pairs, or restore it from a good copy.\n");
  return EXIT_DAMAGED;
}
