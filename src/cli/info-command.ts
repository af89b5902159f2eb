/** idx info: the header's numbers (O(1)), as text or JSON. */
import { IdIndex } from "../reader/reader";
import { EXIT_OK, UsageError, parseCommandArgs, plural, writeOut } from "./io";

/** What a writer left unfinished, and what repairs it (spec §11.6). */
export function stateNote(interrupted: boolean, retired: boolean): string {
  const what = retired
    ? "marked retired, but still the file at its path: the process that replaced it stopped before its rename"
    : "a writer stopped in the middle of an operation";
  return `${what}; it reads correctly, and the next writer repairs it (any idx set, del, put or compact)`;
}

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
    ["widths", `${info.keyBits}-bit keys, ${info.valueBits}-bit values`],
    ["entries", String(info.count)],
    ["capacity", plural(info.capacity, "home slot", "home slots")],
    ["slots", `${info.slotCount} (${info.slotCount - info.capacity} spill)`],
    ["load", `${(100 * info.load).toFixed(1)}% (entries / capacity)`],
    ["writes", `${plural(info.writes, "in-place operation", "in-place operations")} since built`],
    ["reach", info.reach === null ? "not recorded (version 1)" : `${info.reach} (no lookup reads more than ${plural(info.reach + 1, "slot", "slots")})`],
    ["file size", plural(info.fileBytes, "byte", "bytes")],
    ["bytes per entry", info.bytesPerEntry === null ? "-" : info.bytesPerEntry.toFixed(2)],
  ];
  if (info.interrupted || info.retired) rows.push(["state", stateNote(info.interrupted, info.retired)]);
  rows.push(["access", info.access === "mapped" ? "mapped (native addon)" : "copied into memory (no native addon)"]);
  const width = Math.max(...rows.map(([k]) => k.length));
  await writeOut(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n", true);
  return EXIT_OK;
}
