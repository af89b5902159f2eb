import { IdIndex } from "../reader";
import { EXIT_OK, UsageError, parseCommandArgs, writeOut } from "./io";

/** Every entry as `key<TAB>value` lines: `idx build` of the output gives the same map. */
export async function run(args: string[]): Promise<number> {
  const { positionals } = parseCommandArgs("dump", args, {});
  if (positionals.length !== 1) throw new UsageError("dump takes one index file", "dump");
  const ix = IdIndex.open(positionals[0]);
  let out = "";
  for (const [key, value] of ix) {
    out += `${key}\t${value}\n`;
    if (out.length >= 1 << 16) {
      await writeOut(out);
      out = "";
    }
  }
  await writeOut(out);
  ix.close();
  return EXIT_OK;
}
