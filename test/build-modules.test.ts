/**
 * The build is cut along its seams (api, builder, input, spill), and takes every format fact from
 * core/format.ts: a header size or offset written as a number here would be missed by the next
 * format change.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(__dirname, "..", "src");
const BUILD = join(SRC, "build");

/** Lines of `text` that read or size a header by a literal: 128, or a DataView get at a number. */
function headerLiterals(text: string): string[] {
  return text.split("\n").filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line) && /\b128\b|\.get(Uint|Int|Float)\d+\(\s*\d+/.test(line));
}

describe("the build's modules", () => {
  it("are api.ts, builder.ts, input.ts, spill.ts and temp-files.ts under src/build/ (src/build.ts is gone), none over 400 lines", () => {
    expect(existsSync(join(SRC, "build.ts"))).toBe(false);
    const names = readdirSync(BUILD).sort();
    expect(names).toEqual(["api.ts", "builder.ts", "input.ts", "spill.ts", "temp-files.ts"]);
    for (const name of names) expect(readFileSync(join(BUILD, name), "utf8").split("\n").length, name).toBeLessThan(400);
  });

  it("read the header through core/format.ts: no header size or offset as a literal", () => {
    expect(headerLiterals("const v = new DataView(image.buffer, image.byteOffset, 128);\ncapacity: v.getUint32(16, true)")).toHaveLength(2);
    for (const name of readdirSync(BUILD)) expect(headerLiterals(readFileSync(join(BUILD, name), "utf8")), name).toEqual([]);
  });
});
