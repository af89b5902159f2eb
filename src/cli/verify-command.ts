import { verifyFile } from "../verify";
import { EXIT_DAMAGED, EXIT_OK, UsageError, parseCommandArgs } from "./io";

export async function run(args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs("verify", args, {});
  if (positionals.length !== 1) throw new UsageError("verify takes one index file", "verify");
  const report = verifyFile(positionals[0]);
  if (report.ok) {
    const dirty = report.dirtyBlocks
      ? `; ${report.dirtyBlocks} block(s) were being written when their writer stopped and are rechecked when a writer next opens the index`
      : "";
    process.stdout.write(`${report.path}: ok, ${report.entries} entries, ${report.tombstones} tombstones, all checksums match${dirty}\n`);
    return EXIT_OK;
  }
  process.stderr.write(`idx: ${report.path}: damaged (${report.problems.length}${report.problems.length >= 20 ? "+" : ""} problems)\n`);
  for (const p of report.problems) process.stderr.write(`  at byte ${p.offset}: ${p.message.replace(/\n/g, " ")}\n`);
  process.stderr.write("Rebuild the index from its source pairs, or restore it from a good copy.\n");
  return EXIT_DAMAGED;
}
