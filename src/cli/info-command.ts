import { IdIndex } from "../reader";
import { EXIT_OK, UsageError, parseCommandArgs } from "./io";

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("info", args, { json: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("info takes one index file", "info");
  const ix = IdIndex.open(positionals[0]);
  const info = ix.info();
  ix.close();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(info)}\n`);
    return EXIT_OK;
  }
  const rows: [string, string][] = [
    ["file", info.path],
    ["format version", info.version],
    ["entries", String(info.count)],
    ["capacity", `${info.capacity} home slots`],
    ["slots", `${info.slotCount} (${info.slotCount - info.capacity} spill)`],
    ["load", `${(100 * info.load).toFixed(1)}% (entries / capacity)`],
    ["writes", `${info.writes} in-place operation${info.writes === 1 ? "" : "s"} since built`],
    ["reach", info.reach === null ? "not recorded (version 1)" : `${info.reach} (no lookup reads more than ${info.reach + 1} slots)`],
    ["file size", `${info.fileBytes} bytes`],
    ["bytes per entry", info.bytesPerEntry === null ? "-" : info.bytesPerEntry.toFixed(2)],
    ["access", info.access === "mapped" ? "mapped (native addon)" : "copied into memory (no native addon)"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n");
  return EXIT_OK;
}
