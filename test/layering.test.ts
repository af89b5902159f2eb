/**
 * The layering of src/, checked on every run: data flows one way, core <- os <- library <- cli.
 * core/ knows no files and no addon (it may load zlib, for CRC-32 of long inputs); os/ touches
 * the system (files, mappings, locks, the addon); the library (reader, writer/, build, verify,
 * replace, copy, index) puts them together; cli/ is the command. The writer does not import the
 * reader.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(__dirname, "..", "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Every module a file imports or requires: src/ modules as paths below src/, others as written. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms),
    ...text.matchAll(/require\("([^"]+)"\)/g),
    ...text.matchAll(/import\("([^"]+)"\)/g),
  ].map((m) => m[1]);
  return specs.map((s) => (s.startsWith(".") ? `src/${relative(SRC, resolve(dirname(file), s))}` : s));
}

function levelOf(module: string): number {
  module = module.replace(/^src\//, "");
  if (module.startsWith("core/")) return 0;
  if (module.startsWith("os/")) return 1;
  if (module.startsWith("cli/")) return 3;
  return 2;
}

describe("src/ layering", () => {
  const all = files(SRC).map((f) => relative(SRC, f));

  it("finds the modules (the check itself works)", () => {
    expect(all).toEqual(expect.arrayContaining(["core/table.ts", "os/mapping.ts", "reader/reader.ts", "writer/writer.ts", "cli/main.ts"]));
    expect(importsOf(join(SRC, "reader/reader.ts"))).toEqual(expect.arrayContaining(["src/core/table", "src/os/mapping", "node:fs"]));
  });

  it("a module imports only modules of its own layer or below: core <- os <- library <- cli", () => {
    const wrong: string[] = [];
    for (const file of all) {
      for (const dep of importsOf(join(SRC, file))) {
        if (dep === "src/../package.json") continue; // --version
        if (!dep.startsWith("src/")) {
          if (!dep.startsWith("node:")) wrong.push(`${file} imports the package ${dep}: idx has no runtime dependencies`);
          continue;
        }
        if (levelOf(dep) > levelOf(file)) wrong.push(`${file} (layer ${levelOf(file)}) imports ${dep} (layer ${levelOf(dep)})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("core/ touches no files, processes or addon: of Node's modules it loads only zlib", () => {
    const wrong: string[] = [];
    for (const file of all.filter((f) => f.startsWith("core/"))) {
      for (const dep of importsOf(join(SRC, file))) {
        if (dep.startsWith("node:") && dep !== "node:zlib") wrong.push(`${file} imports ${dep}`);
      }
      const text = readFileSync(join(SRC, file), "utf8");
      if (/\bprocess\.(env|binding|dlopen)|\bfs\./.test(text)) wrong.push(`${file} reaches the process or the file system`);
    }
    expect(wrong).toEqual([]);
  });

  it("the writer does not import the reader", () => {
    for (const file of all.filter((f) => f.startsWith("writer/"))) {
      expect(importsOf(join(SRC, file)).filter((dep) => dep.startsWith("src/reader")), file).toEqual([]);
    }
  });
});
