/** idx dump: every entry as KEY<TAB>VALUE lines (or binary pairs); `idx build` of it gives the same map. */
import { IdIndex } from "../reader/reader";
import { EXIT_OK, UsageError, parseCommandArgs, writeOut } from "./io";

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("dump", args, { binary: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("dump takes one index file", "dump");
  const ix = IdIndex.open(positionals[0]);
  try {
    for (const chunk of ix.exportChunks(values.binary === true)) {
      if (chunk.length > 0) await writeOut(chunk);
    }
  } finally {
    ix.close();
  }
  return EXIT_OK;
}
