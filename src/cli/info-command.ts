/** idx info: the header's numbers (O(1)), as text or JSON. */
import { IdIndex } from "../reader/reader";
import { EXIT_OK, UsageError, parseCommandArgs, plural, writeOut } from "./io";

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("info", args, { json: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("info takes one index file", "info");
  const ix = IdIndex.open(positionals[0]);
  let info;
  try {
    info = ix.info();
  } finally {
    ix.close();
  }
  if (values.json) {
    await writeOut(`${JSON.stringify(info)}\n`, true);
    return EXIT_OK;
  }
  const rows: [string, string][] = [
    ["file", info.path],
    ["format version", info.version],
    ["entries", String(info.count)],
    ["capacity", plural(info.capacity, "home slot", "home slots")],
    ["slots", `${info.slotCount} (${info.slotCount - info.capacity} spill)`],
    ["load", `${(100 * info.load).toFixed(1)}% (entries / capacity)`],
    ["writes", `${plural(info.writes, "in-place operation", "in-place operations")} since built`],
    ["reach", info.reach === null ? "not recorded (version 1)" : `${info.reach} (no lookup reads more than ${plural(info.reach + 1, "slot", "slots")})`],
    ["file size", plural(info.fileBytes, "byte", "bytes")],
    ["bytes per entry", info.bytesPerEntry === null ? "-" : info.bytesPerEntry.toFixed(2)],
    ["access", info.access === "mapped" ? "mapped (native addon)" : "copied into memory (no native addon)"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  await writeOut(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n", true);
  return EXIT_OK;
}
