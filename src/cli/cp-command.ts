/** idx cp: deploy an index over another so that the target's readers follow (see src/copy.ts). */
import { copyIndex } from "../copy";
import { IdxError } from "../core/errors";
import { EXIT_DAMAGED, EXIT_OK, UsageError, parseCommandArgs, printError, waitOption, warnNotRetired } from "./io";

/** What verify reports as damage (exit 1) rather than as a file that is not an index (exit 2). */
const DAMAGE = new Set(["ERR_IDX_CHECKSUM", "ERR_IDX_CORRUPT", "ERR_IDX_TRUNCATED", "ERR_IDX_TOO_LARGE"]);

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("cp", args, {
    force: { type: "boolean", short: "f" },
    wait: { type: "string" },
    "no-verify": { type: "boolean" },
  });
  if (positionals.length !== 2) throw new UsageError("cp takes SRC DST", "cp");
  const [source, target] = positionals;
  try {
    const outcome = copyIndex(source, target, { force: values.force === true, wait: waitOption("cp", values.wait), verify: values["no-verify"] !== true });
    warnNotRetired(target, outcome);
  } catch (e) {
    // A damaged source is a damaged index: the exit status verify gives it.
    if (e instanceof IdxError && DAMAGE.has(e.code) && e.path === source) {
      printError(e, "cp");
      return EXIT_DAMAGED;
    }
    throw e;
  }
  return EXIT_OK;
}
